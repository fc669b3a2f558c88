"""The app's words in every language it speaks, and the language of the request being served.

The strings live in ``common/locales/<locale>/<area>.yaml``: one file per area (a tab, the hub, the errors...), each
key starting with its file's name (``detection.nms_steps`` in ``detection.yaml``). A third language is a third folder
with the same files and keys (tests/test_i18n.py fails on a key missing or unused). ``glossary.yaml`` is the course's
terms, which the Chinese follows.

A training form's English is its config's metadata (``opt(help=..., label=...)``, also the CLI's help): the ``form``
area is made from it here (``form_key``), and only the other languages have a ``form.yaml``.

``t(key, **values)`` is what a handler returns (a message, a status line, a plot's title) in the language of the
request being served: the page's switch (a ``dlp-lang`` cookie), else the browser's Accept-Language, else English.
Outside a request it is ``DLP_LANG``'s language where set (a job started from a Chinese page writes its model card in
Chinese), else English: the CLI stays English. The layout's strings are ``webui.i18n.L``.
"""
from __future__ import annotations

import collections
import dataclasses
import functools
import os
import sys
from http.cookies import CookieError, SimpleCookie
from pathlib import Path

LOCALES_DIR = Path(__file__).parent / "locales"
DEFAULT = "en"
COOKIE = "dlp-lang"
NAMES = {"en": "English", "zh-CN": "简体中文"}  # the switch's choices, each in its own language


@functools.cache
def strings() -> dict[str, dict[str, str]]:
    """locale -> {key: text}, from every <locale>/<area>.yaml, plus the English of the training forms."""
    import yaml

    out: dict[str, dict[str, str]] = {}
    for folder in sorted(p for p in LOCALES_DIR.iterdir() if p.is_dir()):
        table = out.setdefault(folder.name, {})
        for path in sorted(folder.glob("*.yaml")):
            for k, v in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).items():
                table[str(k)] = str(v)
    if (Path(__file__).parents[1] / "training").is_dir():  # (a published Space carries common/, not training/)
        out[DEFAULT].update(form_strings())
    return out


# Where Gradio's front end leaves a layout string untranslated (an Examples table's headers are its inputs' labels, a
# Radio's cell there is its choice's shown text, a Dataframe's headers), a text node holds the marker: replaced in the
# page from the translations the page's config carries (i18n_translations), in the language the page speaks. The app
# puts it first in the page (webui.i18n.LanguageOverride); a published Space in its head (MARKERS_HEAD).
# Which of ``codes`` the page speaks: navigator.language (which the switch's override sets), else a locale of the
# same language, else English; best_match's rule, in the browser (the markers' tables, the switch's shown name).
PAGE_LOCALE_JS = """(codes) => {
  const lang = navigator.language || 'en';
  return codes.includes(lang) ? lang : (codes.find(k => k.split('-')[0] === lang.split('-')[0]) || 'en');
}"""
MARKERS_JS = """
const MARK = /__i18n__(\\{[^}]*\\})/g;
const pageLocale = %s;
const tables = () => {
  const all = (window.gradio_config || {}).i18n_translations;
  if (!all) return null;
  return [all[pageLocale(Object.keys(all))] || {}, all.en || {}];
};
const fix = (node) => {
  if (!node.data || node.data.indexOf('__i18n__') < 0) return;
  const t = tables();
  if (!t) return;
  const text = node.data.replace(MARK, (m, json) => {
    try { const k = JSON.parse(json).key; return t[0][k] || t[1][k] || m; } catch (e) { return m; }
  });
  if (text !== node.data) node.data = text;  // (an unchanged write would call the observer again, forever)
};
const walk = (root) => {
  if (root.nodeType === 3) return fix(root);
  if (root.nodeType !== 1) return;
  const w = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let n = w.nextNode(); n; n = w.nextNode()) fix(n);
};
new MutationObserver((changes) => {
  for (const c of changes) c.type === 'characterData' ? fix(c.target) : c.addedNodes.forEach(walk);
}).observe(document.documentElement, {childList: true, subtree: true, characterData: true});
walk(document.documentElement);  // (what is drawn already, where the script comes late: a Space's head)
""" % PAGE_LOCALE_JS
MARKERS_HEAD = "<script>(() => {%s})();</script>" % MARKERS_JS


def area_of(key: str) -> str:
    """The file a key lives in: its first part."""
    return key.split(".", 1)[0]


def form_key(cls: type, name: str) -> str | None:
    """The key of config field ``name`` of ``cls`` (its help is ``<key>.info``): ``form.<name>`` for the field's most
    common wording across the tasks (epochs, learning rate: translated once), else named after the class that
    declares this wording. None for a config of a task kept outside the repo (DLP_TASKS): its form is in English."""
    return _form_keys().get((cls, name))


@functools.cache
def _form_keys() -> dict[tuple[type, str], str]:
    """(config class, field) -> key, for the repo's own tasks (training.tasks.MODULES)."""
    from training.config import label_of
    from training.tasks import MODULES, TASKS

    fields = [(task.config, f) for name, task in TASKS.items() if name in MODULES
              for f in dataclasses.fields(task.config)]
    wordings: dict[str, collections.Counter] = {}
    for _, f in fields:
        wordings.setdefault(f.name, collections.Counter())[(label_of(f), f.metadata.get("help"))] += 1
    keys = {}
    for cls, f in fields:
        if wordings[f.name].most_common(1)[0][0] == (label_of(f), f.metadata.get("help")):
            keys[(cls, f.name)] = f"form.{f.name}"
            continue
        declaring = cls
        for base in cls.__mro__[1:]:
            if getattr(base, "__dataclass_fields__", {}).get(f.name) is f:
                declaring = base
        keys[(cls, f.name)] = f"form.{declaring.__name__}.{f.name}"
    return keys


def form_strings() -> dict[str, str]:
    """The English of every training form: each field's label and help, from its config's metadata."""
    from training.config import label_of

    out = {}
    for (cls, name), key in _form_keys().items():
        f = cls.__dataclass_fields__[name]
        out[key] = label_of(f)
        if f.metadata.get("help"):
            out[key + ".info"] = f.metadata["help"]
    return out


def t(key: str, **values: object) -> str:
    """A string a handler returns, in the language of the request being served, with ``values`` filled in."""
    table = strings().get(request_locale()) or strings()[DEFAULT]
    text = table.get(key) or strings()[DEFAULT][key]
    return text.format(**values) if values else text


def english(key: str, **values: object) -> str:
    """A string in English whoever is served: what a record keeps beside its key (a job's message, for the CLI and
    its log), so each page can show it in its own language."""
    text = strings()[DEFAULT][key]
    return text.format(**values) if values else text


def in_chinese() -> bool:
    """Whether the request being served reads Chinese (a picture's font must then have the glyphs)."""
    return request_locale().startswith("zh")


def current_request():
    """The request being served: Gradio keeps it in a context variable while an event runs. None outside an event,
    and where gradio was never imported (a job's process, the CLI)."""
    if "gradio" not in sys.modules:
        return None
    from gradio.context import LocalContext

    return LocalContext.request.get(None)


def request_locale() -> str:
    """The switch's choice (cookie), else the first language of Accept-Language this app speaks, else English.
    Outside a request: DLP_LANG, else English."""
    if (request := current_request()) is None:
        return os.environ.get("DLP_LANG", DEFAULT) if os.environ.get("DLP_LANG") in strings() else DEFAULT
    headers = getattr(request, "headers", None) or {}
    cookies = SimpleCookie()
    try:
        cookies.load(headers.get("cookie", ""))
    except CookieError:
        pass
    if (chosen := cookies.get(COOKIE)) is not None and chosen.value in strings():
        return chosen.value
    return best_match(headers.get("accept-language", ""))


def best_match(accept_language: str) -> str:
    """The locale this app speaks that an Accept-Language header asks for first ("zh-CN,zh;q=0.9" -> zh-CN; a bare
    "zh" or "zh-Hans" -> zh-CN), else English."""
    wanted = []
    for part in accept_language.split(","):
        lang, _, q = part.strip().partition(";q=")
        try:
            wanted.append((float(q) if q else 1.0, lang.strip()))
        except ValueError:
            continue
    for _, lang in sorted(wanted, key=lambda w: -w[0]):
        for locale in strings():
            if lang.lower() == locale.lower() or lang.split("-")[0].lower() == locale.split("-")[0].lower():
                return locale
    return DEFAULT

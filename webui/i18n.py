"""The app's words in every language it speaks (webui/locales/<locale>.yaml), chosen by the visitor's browser or by
the switch in the page's header.

Two kinds of strings:
- ``L(key)``: what the layout shows (labels, titles, texts). Gradio's front end translates it in the browser
  (``launch(i18n=I18N)``) from ``navigator.language``.
- ``t(key, **values)``: what a handler returns (messages, status lines), in the language of the request being
  served: the switch's choice (a ``dlp-lang`` cookie), else the browser's Accept-Language, else English.

The switch stores its choice in the browser (localStorage and a cookie) and reloads the page; ``LanguageOverride``
puts a script at the top of the page that makes ``navigator.language`` say the chosen language before Gradio's
front end reads it.
"""
from __future__ import annotations

import functools
import json
from http.cookies import CookieError, SimpleCookie
from pathlib import Path

import gradio as gr
import yaml
from gradio.i18n import I18nData

LOCALES_DIR = Path(__file__).parent / "locales"
DEFAULT = "en"
COOKIE = "dlp-lang"
NAMES = {"en": "English", "zh-CN": "简体中文"}  # the switch's choices, each in its own language


@functools.cache
def strings() -> dict[str, dict[str, str]]:
    """locale -> {key: text}, from every <locale>.yaml (glossary.yaml is the translators' word list)."""
    out = {}
    for path in sorted(LOCALES_DIR.glob("*.yaml")):
        if path.stem != "glossary":
            out[path.stem] = {str(k): str(v) for k, v in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).items()}
    return out


I18N = gr.I18n(**strings())


def L(key: str) -> I18nData:  # noqa: N802 (short, as gettext's _ is)
    """A layout string, translated in the browser."""
    if key not in strings()[DEFAULT]:
        raise KeyError(f"no string {key!r} in {LOCALES_DIR / (DEFAULT + '.yaml')}")
    return I18N(key)


def t(key: str, **values: object) -> str:
    """A string a handler returns, in the language of the request being served, with ``values`` filled in."""
    table = strings().get(request_locale()) or strings()[DEFAULT]
    text = table.get(key) or strings()[DEFAULT][key]
    return text.format(**values) if values else text


def request_locale() -> str:
    """The switch's choice (cookie), else the first language of Accept-Language this app speaks, else English."""
    from .visitors import _request

    request = _request()
    if request is None:
        return DEFAULT
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


SWITCH_JS = """(choice) => {
    const locale = %s[choice] || 'en';
    localStorage.setItem('%s', locale);
    document.cookie = '%s=' + locale + '; path=/; max-age=31536000; SameSite=Lax';
    location.reload();
    return choice;
}""" % (json.dumps({name: code for code, name in NAMES.items()}), COOKIE, COOKIE)


def language_switch() -> gr.Dropdown:
    """The header's language picker: the page reloads in the chosen language (no server call)."""
    box = gr.Dropdown(list(NAMES.values()), value=None, label=L("app.language"), scale=0, min_width=160,
                      elem_id="dlp-language")
    box.input(None, box, box, js=SWITCH_JS)
    return box


_OVERRIDE = ("<script>(() => { const o = localStorage.getItem(%s); if (o) { "
             "Object.defineProperty(navigator, 'language', {get: () => o}); "
             "Object.defineProperty(navigator, 'languages', {get: () => [o]}); } })();</script>" % json.dumps(COOKIE)
             ).encode()


class LanguageOverride:
    """ASGI middleware: the page's HTML starts with the script that applies the switch's choice. (Gradio injects
    a Blocks' own ``head`` after its front end has read ``navigator.language``: too late.)"""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") != "GET" or scope.get("path", "").rstrip("/") != "":
            return await self.app(scope, receive, send)
        start: dict = {}
        chunks: list[bytes] = []

        async def rewrite(message):
            if message["type"] == "http.response.start":
                start.update(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(chunks)
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            if any(k.lower() == b"content-type" and v.startswith(b"text/html") for k, v in headers):
                body = body.replace(b"<head>", b"<head>" + _OVERRIDE, 1)
            await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, rewrite)

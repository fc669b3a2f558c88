"""The app's words in English and Simplified Chinese (webui.i18n, webui/locales/)."""
from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT, free_port
from test_app import wait_for


def _used_keys(*, passed_on: bool = False) -> set[str]:
    """Every key the code asks for: L("..."), t("..."), I18N("...") (a Space) and choice("...", value) literals, the
    tabs' titles (L(f"tab.{name}")), the tasks' metrics (jobs.metric.<name>) and the training forms' fields
    (generated from the configs); with ``passed_on``,
    also any string literal that is a key (passed on as a value: axis_titles(plot, x="axis.step"))."""
    from common.i18n import form_strings
    from training.tasks import TASKS
    from webui import TABS

    used = {f"tab.{name}" for name in TABS} | set(form_strings()) | {f"jobs.metric.{t.metric}" for t in TASKS.values()}
    asked = r"\b(?:[Lt]|choice|I18N)\(\s*" if not passed_on else ""
    for path in _sources():
        used |= set(re.findall(asked + r"[\"']([a-z_]+\.[a-z_][A-Za-z_.0-9]*)[\"']", path.read_text(encoding="utf-8")))
    return used


def _sources():
    return [ROOT / "app.py", *(p for folder in ("webui", "hub_models", "hub", "training", "common", "lab", "spaces")
                               for p in (ROOT / folder).rglob("*.py"))]


def test_every_language_has_every_key_and_every_key_is_used():
    from common.i18n import DEFAULT, LOCALES_DIR, area_of, strings

    tables = strings()
    assert set(tables) >= {"en", "zh-CN"}
    for locale, table in tables.items():
        assert set(table) == set(tables[DEFAULT]), (locale, sorted(set(table) ^ set(tables[DEFAULT]))[:20])
        assert all(text.strip() for text in table.values()), locale
    assert _used_keys() - set(tables[DEFAULT]) == set(), "asked for but not in the English files"
    assert set(tables[DEFAULT]) - _used_keys(passed_on=True) == set(), "in the English files but used nowhere"
    # Each key lives in the file of its area (its first part), in every language.
    import yaml

    for path in LOCALES_DIR.glob("*/*.yaml"):
        keys = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        assert all(area_of(k) == path.stem for k in keys), (path, [k for k in keys if area_of(k) != path.stem])


def test_a_translation_keeps_the_values_it_is_filled_with():
    """A string with {placeholders} has the same ones in every language (t() fills them by name)."""
    from common.i18n import DEFAULT, strings

    def names(text: str) -> set[str]:
        return set(re.findall(r"(?<!\{)\{([a-z_0-9]*)(?:[:!][^}]*)?\}(?!\})", text))

    for locale, table in strings().items():
        for key, english in strings()[DEFAULT].items():
            assert names(table[key]) == names(english), (locale, key)


def test_tab_titles_in_english_are_the_tabs_own():
    from common.i18n import strings
    from webui import TABS

    for name in TABS:
        assert strings()["en"][f"tab.{name}"] == importlib.import_module(f"webui.{name}").TITLE


def test_the_glossary_terms_are_the_ones_the_translations_use():
    """Where a Chinese string names a course term in English's place, it uses the notes' word (glossary.yaml)."""
    import yaml

    from common.i18n import LOCALES_DIR, strings

    glossary = yaml.safe_load((LOCALES_DIR / "glossary.yaml").read_text(encoding="utf-8"))
    for key, english in strings()["en"].items():
        for term, chinese in glossary.items():
            if re.search(rf"\b{re.escape(term)}", english.lower()):
                assert any(c.strip() in strings()["zh-CN"][key] for c in chinese.split("/")), (key, term)


def test_accept_language_picks_the_closest_locale():
    from common.i18n import best_match

    assert best_match("zh-CN,zh;q=0.9,en;q=0.8") == "zh-CN"
    assert best_match("zh-Hans") == "zh-CN"
    assert best_match("fr-FR,fr;q=0.9") == "en"
    assert best_match("fr;q=0.9,zh;q=0.5") == "zh-CN"
    assert best_match("en-GB") == "en" and best_match("") == "en" and best_match(";q=x,,") == "en"


def _cjk(text: str) -> int:
    return len(re.findall(r"[\u4e00-\u9fff]", text))


@pytest.mark.browser
@pytest.mark.timeout(600)
def test_a_chinese_browser_and_the_switch(browser, tmp_path):
    """A browser set to zh-CN gets every tab in Chinese (no long English string of the tab's own left in sight) and a
    refused input's message in Chinese; an English browser switches, and the choice stays."""
    from playwright.sync_api import expect

    from common.i18n import strings
    from webui import TABS

    zh, en_words = strings()["zh-CN"], strings()["en"]
    port = free_port()
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port), "--no-starter", "--no-warm-up"],
                            cwd=ROOT, env={**os.environ, "DLP_HOME": str(tmp_path / "home")},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(f"http://127.0.0.1:{port}/", proc)
        context = browser.new_context(locale="zh-CN")
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{port}/")
        expect(page.get_by_role("tab", name=zh["tab.classification"])).to_be_visible(timeout=60_000)
        for name in TABS:
            page.get_by_role("tab", name=zh[f"tab.{name}"], exact=True).click()
            panel = page.get_by_role("tabpanel").filter(visible=True).first
            expect(panel).to_contain_text(re.compile("[\u4e00-\u9fff]{4}"))
            shown = panel.inner_text()
            assert _cjk(shown) >= 40, (name, shown[:300])
            english = [text for key, text in en_words.items() if key.startswith(f"{name}.") and len(text) > 25
                       and "\n" not in text and text != zh[key] and text in shown]
            assert not english, (name, english[:5])
            # Every sub-tab: no string left as Gradio's untranslated marker (an Examples table's headers were).
            subtabs = [s.inner_text() for s in panel.get_by_role("tab").filter(visible=True).all()]
            for sub in subtabs:
                panel.get_by_role("tab", name=sub, exact=True).first.click()
                expect(panel).not_to_contain_text("__i18n__")
        page.get_by_role("tab", name=zh["tab.about"]).click()
        expect(page.get_by_text(zh["about.versions"])).to_be_visible()  # the About tab, whole
        expect(page.get_by_text("数据文件夹")).to_be_visible()  # a handler's text, by Accept-Language
        page.get_by_role("tab", name=zh["tab.classification"]).click()
        page.get_by_role("tab", name=zh["classification.predict"]).click()
        page.get_by_role("button", name=zh["classification.classify"], exact=True).click()  # no model picked
        expect(page.get_by_text(zh["error.pick_model"]).first).to_be_visible(timeout=30_000)
        context.close()

        context = browser.new_context(locale="en-US")
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{port}/")
        expect(page.get_by_role("tab", name="Image classification")).to_be_visible(timeout=60_000)
        page.get_by_label("Language").click()
        page.get_by_role("option", name="简体中文").click()  # the page reloads in Chinese, and stays so
        expect(page.get_by_role("tab", name="图像分类")).to_be_visible(timeout=60_000)
        page.reload()
        expect(page.get_by_role("tab", name="图像分类")).to_be_visible(timeout=60_000)
        page.get_by_role("tab", name=zh["classification.predict"]).click()
        page.get_by_role("button", name=zh["classification.classify"], exact=True).click()
        expect(page.get_by_text(zh["error.pick_model"]).first).to_be_visible(timeout=30_000)
        context.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)


# Every module a user reads words from; not the HTTP APIs (the endpoint and the hub server answer code, in English as
# the Inference API and the Hub do: the endpoint's "Call it from code" text for the page is translated), nor the CLI
# and the trainers' logs (training/__main__.py and the trainers' notes stay English). The trainers' errors and a
# config's refusals are a job's failure reason or a form's message: in the language of the page (DLP_LANG in a job).
UNTRANSLATED = {"webui/endpoint.py"}
TRAINERS = ["bert", "bert_data", "classification", "config", "data", "detection", "detection_data", "engine",
            "face_data", "face_verification", "generative", "segmentation", "segmentation_data", "style", "textgen",
            "translation", "translation_data"]
TRANSLATED = sorted({str(p.relative_to(ROOT)) for folder in ("webui", "hub_models", "lab")
                     for p in (ROOT / folder).glob("*.py")} - UNTRANSLATED) + [
    "app.py", "hub/card.py", "hub/client.py", "hub/publish.py", *(str(p.relative_to(ROOT))
                                                                  for p in (ROOT / "spaces").glob("*/app.py")),
    *(f"training/{name}.py" for name in TRAINERS),
    *(str(p.relative_to(ROOT)) for p in (ROOT / "training" / "tasks").glob("*.py"))]
_WORDS = re.compile(r"[A-Za-z]{2,}[,:;.]? [A-Za-z]{2,}[,:;.]? [A-Za-z]{2,}")  # three words: a sentence, not a name
_NOT_SHOWN = {"js", "css", "head", "api_name", "elem_id", "elem_classes", "api_description", "key", "format"}
_CODE_ONLY = {"print", "debug", "info", "warning", "error", "exception", "compile", "search", "match", "sub",
              "fullmatch", "findall", "startswith", "endswith", "split", "replace", "Path", "add_argument",
              "ArgumentParser", "add_parser"}  # calls whose string arguments a page never shows
_KEYED = {"opt"}  # calls whose strings are the English of keys (a config field's help and label: the form area)
_BUG_ERRORS = {"KeyError", "ValueError", "TypeError", "RuntimeError", "AssertionError", "NotImplementedError",
               "AttributeError", "LookupError", "OSError", "FileNotFoundError"}


def _marked(lines: list[str], n: int) -> bool:
    """Whether line ``n`` (1-based) says its words are not for a reader: a marker at its end, or on a comment line of
    its own just above (where the line would grow too long)."""
    above = lines[n - 2].strip() if n >= 2 else ""
    return bool(_MARKER.search(lines[n - 1]) or (above.startswith("#") and _MARKER.search(above)))


_MARKER = re.compile(r"# i18n: (not shown|kept)")


def english_literals(path) -> list[tuple[int, str]]:
    """(line, text) of each English sentence written in ``path``'s code where a user would read it: string literals
    of three words or more, except docstrings, what only code reads (a js= or css= argument or a *_JS constant, an
    api_name, a log line, a bug's exception) and lines marked ``# i18n: not shown`` or ``# i18n: kept`` (read, but a
    library needs it so)."""
    import ast

    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    lines = source.splitlines()
    skip: set[int] = set()  # ids of nodes inside what is not shown
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant):
            skip.add(id(body[0].value))  # a docstring
        if isinstance(node, ast.Call):
            name = ast.unparse(node.func)
            if name.split(".")[-1] in _BUG_ERRORS | _CODE_ONLY and not name.startswith("gr."):
                skip |= {id(n) for a in node.args for n in ast.walk(a)}
            if name in _KEYED:
                skip |= {id(n) for a in [*node.args, *(kw.value for kw in node.keywords)] for n in ast.walk(a)}
            for kw in node.keywords:
                if kw.arg in _NOT_SHOWN:
                    skip |= {id(n) for n in ast.walk(kw.value)}
        if isinstance(node, ast.Assign) and any(isinstance(n, ast.Name) and n.id.endswith(("_JS", "_CSS"))
                                                for n in node.targets):  # a script or a style sheet
            skip |= {id(n) for n in ast.walk(node.value)}
        if isinstance(node, ast.Assign) and _marked(lines, node.lineno):  # a marked constant: all of its value
            skip |= {id(n) for n in ast.walk(node.value)}
        if isinstance(node, ast.Raise) and node.exc is not None:
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if ast.unparse(exc).split(".")[-1] in _BUG_ERRORS:
                skip |= {id(n) for n in ast.walk(node.exc)}
        if isinstance(node, ast.JoinedStr):
            skip |= {id(v) for v in node.values}  # judged as one string, below
    found = []
    for node in ast.walk(tree):
        if not hasattr(node, "lineno") or id(node) in skip or _marked(lines, node.lineno):
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        elif isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else " {} " for v in node.values)
        else:
            continue
        if _WORDS.search(text):
            found.append((node.lineno, text[:80]))
    return sorted(found)


@pytest.mark.parametrize("module", TRANSLATED)
def test_no_english_left_in_the_translated_modules(module):
    assert english_literals(ROOT / module) == []


def test_pictures_draw_chinese_with_real_glyphs(monkeypatch):
    """The font the project's set-up installs has the glyphs: two Chinese characters draw differently (a font
    without them draws the same empty box for both), and the browser's page finds one too (fontconfig)."""
    import numpy as np
    from PIL import Image, ImageDraw

    from hub_models.visual import font

    def drawn(text: str) -> np.ndarray:
        im = Image.new("L", (40, 40), 255)
        ImageDraw.Draw(im).text((4, 4), text, fill=0, font=font(28, chinese=True))
        return np.asarray(im)

    box, mix = drawn("混"), drawn("矩")
    assert (box < 128).any() and (box != mix).any()
    # A picture drawn for a Chinese reader picks that font by itself (here through DLP_LANG, as a job's process).
    english = font(20).getbbox("混淆矩阵")
    monkeypatch.setenv("DLP_LANG", "zh-CN")
    assert font(20).path != font(20, chinese=False).path and font(20).getbbox("混淆矩阵") != english
    fonts = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True).stdout
    assert fonts.strip(), "no font with Chinese glyphs: `make fonts` installs one"


def test_the_chinese_readme_keeps_step_with_the_english_one():
    """README.zh-CN.md has the English README's commands (every fenced block, comments aside), in order, and its
    sections."""
    def blocks(text: str) -> list[list[str]]:
        return [[line.split("  #")[0].rstrip() for line in block.splitlines()
                 if line.strip() and not line.lstrip().startswith("#")]
                for block in re.findall(r"```[a-z]*\n(.*?)```", text, re.S)]

    english = (ROOT / "README.md").read_text(encoding="utf-8")
    chinese = (ROOT / "README.zh-CN.md").read_text(encoding="utf-8")
    assert blocks(chinese) == blocks(english)
    assert len(re.findall(r"(?m)^##+ ", chinese)) == len(re.findall(r"(?m)^##+ ", english))
    assert "README.zh-CN.md" in english and "README.md" in chinese  # each links to the other


def test_a_job_from_a_chinese_page_fails_in_chinese_and_the_cli_in_english():
    """A job started from a Chinese page gets DLP_LANG (the runner sets it): its refusal, the reason the jobs table
    shows, is Chinese; the CLI without it stays English. A task's own check (training/tasks) is translated too."""
    def refusal(lang: str | None, *args: str) -> str:
        env = {k: v for k, v in os.environ.items() if k != "DLP_LANG"} | ({"DLP_LANG": lang} if lang else {})
        out = subprocess.run([sys.executable, "-m", "training", *args, "--dry-run"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=120)
        assert out.returncode != 0
        return out.stderr.strip().splitlines()[-1]

    assert "没有数据集" in refusal("zh-CN", "classification", "--dataset", "/nonexistent.zip")
    assert "no dataset '/nonexistent.zip'" in refusal(None, "classification", "--dataset", "/nonexistent.zip")
    assert refusal("zh-CN", "detection", "--image-size", "100") == \
        "error: --image-size: TinySSD 需要 64 的倍数，而不是 100（试试 128）"

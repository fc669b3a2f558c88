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


def _used_keys() -> set[str]:
    """Every key the code asks for: L("...") and t("...") literals, and the tabs' titles (L(f"tab.{name}"))."""
    from webui import TABS

    used = {f"tab.{name}" for name in TABS}
    for path in [ROOT / "app.py", *(ROOT / "webui").rglob("*.py")]:
        used |= set(re.findall(r"\b[Lt]\(\"([a-z_]+\.[a-z_.]+)\"", path.read_text(encoding="utf-8")))
    return used


def test_every_language_has_every_key_and_every_key_is_used():
    from webui.i18n import DEFAULT, strings

    tables = strings()
    assert set(tables) >= {"en", "zh-CN"}
    for locale, table in tables.items():
        assert set(table) == set(tables[DEFAULT]), (locale, set(table) ^ set(tables[DEFAULT]))
        assert all(text.strip() for text in table.values()), locale
    used = _used_keys()
    assert used - set(tables[DEFAULT]) == set(), "asked for but not in en.yaml"
    assert set(tables[DEFAULT]) - used == set(), "in en.yaml but used nowhere"


def test_tab_titles_in_english_are_the_tabs_own():
    from webui import TABS
    from webui.i18n import strings

    for name in TABS:
        assert strings()["en"][f"tab.{name}"] == importlib.import_module(f"webui.{name}").TITLE


def test_the_glossary_terms_are_the_ones_the_translations_use():
    """Where a Chinese string names a course term in English's place, it uses the notes' word (glossary.yaml)."""
    import yaml

    from webui.i18n import LOCALES_DIR, strings

    glossary = yaml.safe_load((LOCALES_DIR / "glossary.yaml").read_text(encoding="utf-8"))
    for key, english in strings()["en"].items():
        for term, chinese in glossary.items():
            if term in english.lower():
                assert any(c.strip() in strings()["zh-CN"][key] for c in chinese.split("/")), (key, term)


def test_accept_language_picks_the_closest_locale():
    from webui.i18n import best_match

    assert best_match("zh-CN,zh;q=0.9,en;q=0.8") == "zh-CN"
    assert best_match("zh-Hans") == "zh-CN"
    assert best_match("fr-FR,fr;q=0.9") == "en"
    assert best_match("fr;q=0.9,zh;q=0.5") == "zh-CN"
    assert best_match("en-GB") == "en" and best_match("") == "en" and best_match(";q=x,,") == "en"


@pytest.mark.browser
def test_a_chinese_browser_and_the_switch(browser, tmp_path):
    """A browser set to zh-CN gets the tabs and a refused input's message in Chinese; an English one switches."""
    from playwright.sync_api import expect

    port = free_port()
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port), "--no-starter", "--no-warm-up"],
                            cwd=ROOT, env={**os.environ, "DLP_HOME": str(tmp_path / "home")},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(f"http://127.0.0.1:{port}/", proc)
        zh = browser.new_context(locale="zh-CN")
        page = zh.new_page()
        page.goto(f"http://127.0.0.1:{port}/")
        expect(page.get_by_role("tab", name="图像分类")).to_be_visible(timeout=60_000)
        for name in ("目标检测", "语义分割", "机器翻译", "关于"):
            expect(page.get_by_role("tab", name=name)).to_be_visible()
        page.get_by_role("tab", name="关于").click()
        expect(page.get_by_text("已安装的版本")).to_be_visible()  # the About tab, whole
        expect(page.get_by_text("数据文件夹")).to_be_visible()  # a handler's text, by Accept-Language
        page.get_by_role("tab", name="图像分类").click()
        page.get_by_role("tab", name="Predict").click()
        page.get_by_role("button", name="Classify", exact=True).click()  # no model picked
        expect(page.get_by_text("请选择一个模型").first).to_be_visible(timeout=30_000)
        zh.close()

        en = browser.new_context(locale="en-US")
        page = en.new_page()
        page.goto(f"http://127.0.0.1:{port}/")
        expect(page.get_by_role("tab", name="Image classification")).to_be_visible(timeout=60_000)
        page.get_by_label("Language").click()
        page.get_by_role("option", name="简体中文").click()  # the page reloads in Chinese, and stays so
        expect(page.get_by_role("tab", name="图像分类")).to_be_visible(timeout=60_000)
        page.reload()
        expect(page.get_by_role("tab", name="图像分类")).to_be_visible(timeout=60_000)
        page.get_by_role("tab", name="Predict").click()
        page.get_by_role("button", name="Classify", exact=True).click()
        expect(page.get_by_text("请选择一个模型").first).to_be_visible(timeout=30_000)
        en.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)

"""The page's side of the app's languages (common.i18n holds the strings and ``t``): layout strings translated in
the browser, the header's switch, and the script that applies the switch's choice.

``L(key)`` is what the layout shows (labels, infos, placeholders, titles, Markdown, button texts). Gradio's front end
translates it in the browser (``launch(i18n=I18N)``) from ``navigator.language``. ``t(key, **values)`` (re-exported
here) is what a handler returns, in the language of the request being served.

The switch stores its choice in the browser (localStorage and a cookie) and reloads the page; ``LanguageOverride``
puts a script at the top of the page that makes ``navigator.language`` say the chosen language before Gradio's
front end reads it.
"""
from __future__ import annotations

import json

import gradio as gr
from gradio.i18n import I18nData

from common.i18n import (COOKIE, DEFAULT, LOCALES_DIR, MARKERS_JS, NAMES, PAGE_LOCALE_JS, form_key, request_locale,
                         strings, t)

__all__ = ["DEFAULT", "I18N", "L", "t", "request_locale", "choice", "form_label", "language_switch", "LanguageOverride"]

I18N = gr.I18n(**strings())


def L(key: str) -> I18nData:  # noqa: N802 (short, as gettext's _ is)
    """A layout string, translated in the browser."""
    if key not in strings()[DEFAULT]:
        raise KeyError(f"no string {key!r} in {LOCALES_DIR / DEFAULT}")
    return I18N(key)


def choice(key: str, value: str) -> tuple[str, str]:
    """A Radio, Dropdown or CheckboxGroup choice: ``key``'s text shown, ``value`` what the handler gets (Gradio's
    front end translates a choice's shown text, not a choice's value)."""
    return str(L(key)), value


def form_label(cls: type, name: str) -> tuple[I18nData | str, I18nData | str | None]:
    """The label and the help (None when the field has none) of config field ``name``, translated in the browser;
    a task registered after the strings were read (DLP_TASKS) shows its config's own English."""
    key = form_key(cls, name)
    if key is None or key not in strings()[DEFAULT]:
        from training.config import label_of

        f = cls.__dataclass_fields__[name]
        return label_of(f), f.metadata.get("help") or None
    return L(key), (L(key + ".info") if key + ".info" in strings()[DEFAULT] else None)


SWITCH_JS = """(choice) => {
    const locale = %s[choice] || 'en';
    localStorage.setItem('%s', locale);
    document.cookie = '%s=' + locale + '; path=/; max-age=31536000; SameSite=Lax';
    location.reload();
    return choice;
}""" % (json.dumps({name: code for code, name in NAMES.items()}), COOKIE, COOKIE)


# The switch shows the language the page speaks (navigator.language, which the override sets), in the browser.
SHOWN_JS = """() => {
    const names = %s;
    return names[(%s)(Object.keys(names))];
}""" % (json.dumps(NAMES), PAGE_LOCALE_JS)


def language_switch(demo: gr.Blocks) -> gr.Dropdown:
    """The header's language picker, showing the page's language: the page reloads in the chosen one (no server
    call)."""
    box = gr.Dropdown(list(NAMES.values()), value=None, label=L("app.language"), scale=0, min_width=160,
                      elem_id="dlp-language")
    box.input(None, box, box, js=SWITCH_JS)
    demo.load(None, None, box, js=SHOWN_JS)
    return box


_OVERRIDE = ("<script>(() => { const o = localStorage.getItem(%s); if (o) { "
             "Object.defineProperty(navigator, 'language', {get: () => o}); "
             "Object.defineProperty(navigator, 'languages', {get: () => [o]}); } %s})();</script>"
             % (json.dumps(COOKIE), MARKERS_JS)).encode()


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

"""Image inputs whose handlers get the uploaded file's path undecoded, so a broken or hostile picture reaches the
project's own checks (hub_models.inference.load_image) and their clear message, not Gradio's decoder.

(Gradio writes a typing stub, inputs.pyi, beside any module that defines a component class: git ignores it.)
"""
from __future__ import annotations

from typing import Any

import gradio as gr

from .i18n import L, t


class PhotoInput(gr.Image):
    """An image input that takes a file, the webcam or the clipboard, and hands the handler the uploaded file's
    path undecoded: a broken or hostile image reaches the project's checks (size, type, pixels) and their clear
    message, not Gradio's decoder. (Gradio draws it as its own Image: same frontend.)"""

    def __init__(self, label: Any = None, **kw: Any):
        kw.setdefault("sources", ["upload", "webcam", "clipboard"])
        super().__init__(label=L("vision.image_input") if label is None else label, type="filepath", **kw)

    # What the page is told: gr.Image's props under its name (a subclass's own would name a component the page
    # does not have, and list only the arguments of this __init__).
    def get_block_name(self) -> str:
        return "image"

    def get_block_class(self) -> str:
        return "image"

    def get_config(self, cls: type | None = None) -> dict[str, Any]:
        return super().get_config(cls or gr.Image)

    def preprocess(self, payload: Any) -> str | None:
        if payload is None:
            return None
        if payload.path is None:  # a data: URL from an API call: send a file, as gradio_client's handle_file does
            # (before the handler's own checks)
            raise gr.Error(t("vision.send_as_file"), print_exception=False, title=t("common.error_title"))
        return payload.path


class DrawingInput(gr.Sketchpad):
    """A canvas to draw on; the handler gets the path of the picture the browser composed, undecoded like a
    PhotoInput's."""

    def get_block_name(self) -> str:
        return "imageeditor"  # (gr.Sketchpad is an ImageEditor with a brush)

    def get_block_class(self) -> str:
        return "imageeditor"

    def preprocess(self, payload: Any) -> str | None:
        composite = getattr(payload, "composite", None) if payload is not None else None
        return getattr(composite, "path", None)

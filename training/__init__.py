"""Trainers. ``TASKS`` maps a task name to (module, config class); each module has
``train(config, stop) -> Iterator[event]``. The CLI (``python -m training <task>``) and
the UI's job runner both drive these generators.
"""
from __future__ import annotations

TASKS: dict[str, tuple[str, str]] = {
    "classification": ("training.classification", "ClassificationConfig"),
    "bert": ("training.bert", "BertConfig"),
    "textgen": ("training.textgen", "TextGenConfig"),
    "translation": ("training.translation", "TranslationConfig"),
    "detection": ("training.detection", "DetectionConfig"),
    "segmentation": ("training.segmentation", "SegmentationConfig"),
    "faces": ("training.face_verification", "FaceConfig"),
    "style": ("training.style", "StyleConfig"),
    "generative": ("training.generative", "GenerativeConfig"),
}

"""Pictures a job left in its model folder, read for the page (no torch here). The drawing itself is
hub_models.visual's (a published Space copies that module)."""
from __future__ import annotations


def picture_file(path):
    """A saved picture as PIL, read now (the job may replace it), or None if it is not there."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            return img.convert("RGB")
    except OSError:
        return None


def saved_picture(name: str):
    """A job panel's ``picture``: the image file ``name`` a trainer saved in the model folder, or None."""
    from pathlib import Path

    return lambda folder: picture_file(Path(folder) / name)

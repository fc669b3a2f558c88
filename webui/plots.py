"""Small renderers for results people would rather look at than read (no torch here)."""
from __future__ import annotations

from hub_models.visual import font


def confusion_image(labels: list[str], matrix: list[list[int]], cell: int = 0):
    """A confusion matrix as a PIL heatmap: rows are true classes, columns predictions."""
    from PIL import Image, ImageDraw

    k = len(labels)
    cell = cell or max(36, min(96, 320 // max(1, k)))  # two classes get big cells, fifty small ones
    big = font(max(11, min(18, cell // 3)))
    pad = 70
    img = Image.new("RGB", (pad + k * cell + 10, pad + k * cell + 10), "white")
    draw = ImageDraw.Draw(img)
    row_max = [max(1, sum(r)) for r in matrix]
    for i, row in enumerate(matrix):
        for j, n in enumerate(row):
            share = n / row_max[i]  # colour by recall share, so rare classes stay readable
            color = (int(255 - 200 * share), int(255 - 140 * share), 255) if i == j else \
                (255, int(255 - 180 * share), int(255 - 180 * share))
            x, y = pad + j * cell, pad + i * cell
            draw.rectangle([x, y, x + cell - 1, y + cell - 1], fill=color, outline=(220, 220, 220))
            if n:
                draw.text((x + cell / 2, y + cell / 2), str(n), fill="black", anchor="mm", font=big)
    small = font(12)
    for t, name in enumerate(labels):
        draw.text((pad + t * cell + cell / 2, pad - 8), name[:max(4, cell // 8)], fill="black", anchor="ms", font=small)
        draw.text((pad - 6, pad + t * cell + cell / 2), name[:9], fill="black", anchor="rm", font=small)
    draw.text((pad, 12), "predicted", fill="gray", font=small)
    draw.text((4, pad - 24), "true", fill="gray", font=small)
    return img


def confusion_picture(folder):
    """The confusion matrix a finished job left in its model folder (confusion_matrix.json), or None."""
    import json
    from pathlib import Path

    path = Path(folder) / "confusion_matrix.json"
    if not path.exists():
        return None
    cm = json.loads(path.read_text())
    return confusion_image(cm["labels"], cm["matrix"])


def attention_image(source: list[str], target: list[str], weights: list[list[float]], cell: int = 34):
    """Attention weights as a heat map: one row per target word, one column per source word."""
    from PIL import Image, ImageDraw

    f = font(12)
    left = 12 + max((int(f.getlength(t)) for t in target), default=0)
    top = 36 + max((int(f.getlength(s)) for s in source), default=0)  # room for the UI's label badge
    img = Image.new("RGB", (left + cell * len(source) + 10, top + cell * len(target) + 10), "white")
    draw = ImageDraw.Draw(img)
    for i, row in enumerate(weights[:len(target)]):
        for j, w in enumerate(row[:len(source)]):
            shade = int(255 * (1 - w))
            x, y = left + j * cell, top + i * cell
            draw.rectangle([x, y, x + cell - 1, y + cell - 1], fill=(shade, shade, 255), outline=(230, 230, 230))
    for j, s in enumerate(source):  # source words written upwards above their columns
        label = Image.new("RGBA", (int(f.getlength(s)) + 4, 16), (255, 255, 255, 0))
        ImageDraw.Draw(label).text((2, 1), s, fill="black", font=f)
        label = label.rotate(90, expand=True)
        img.paste(label, (left + j * cell + cell // 2 - 8, top - 6 - label.height), label)
    for i, t in enumerate(target):
        draw.text((left - 6, top + i * cell + cell / 2), t, fill="black", anchor="rm", font=f)
    return img


def legend_html(labels: list[str], present: list[int]) -> str:
    """Colour swatches for the classes present in a mask (background has none: it is left uncoloured)."""
    from html import escape

    from hub_models.visual import class_colour

    items = []
    for c in present:
        swatch = "border:1px solid #999" if c == 0 else "background:rgb{}".format(class_colour(c))
        items.append(f'<span style="display:inline-flex;align-items:center;margin-right:14px">'
                     f'<span style="width:14px;height:14px;{swatch};display:inline-block;margin-right:5px">'
                     f'</span>{escape(labels[c])}</span>')
    return "<div>" + "".join(items) + "</div>"


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

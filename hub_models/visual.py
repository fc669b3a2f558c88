"""Pictures of results, shared by trainers (pictures saved with a model) and tabs: PIL only, no torch."""
from __future__ import annotations

from functools import lru_cache

_FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "DejaVuSans.ttf",
          "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf")
# With Chinese glyphs (the Makefile installs WenQuanYi Micro Hei; Noto Sans CJK where a system has it instead).
_CJK_FONTS = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
              "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
              "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", "/usr/share/fonts/truetype/arphic/uming.ttc")
# Distinct colours for classes (Tableau 10), then repeats.
PALETTE = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
           (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207))


def font(size: int, chinese: bool | None = None):
    """A TrueType font: one with Chinese glyphs when the request being served reads Chinese (``chinese``), else one
    with accents (DejaVu or Liberation where installed); else Pillow's own."""
    from common.i18n import in_chinese

    return _font(size, in_chinese() if chinese is None else chinese)


@lru_cache(maxsize=32)
def _font(size: int, chinese: bool):
    from PIL import ImageFont

    for path in (*_CJK_FONTS, *_FONTS) if chinese else _FONTS:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def colour(i: int) -> tuple[int, int, int]:
    return PALETTE[i % len(PALETTE)]


def draw_boxes(img, boxes: list[list[float]], classes: list[int], names: list[str],
               scores: list[float] | None = None, width: int = 0, faint: list[list[float]] | None = None):
    """A copy of ``img`` (PIL) with labelled boxes in their class colour; ``faint`` boxes (e.g. the ones NMS
    removed) are drawn thin and grey underneath."""
    from PIL import ImageDraw

    out = img.convert("RGB").copy()
    draw = ImageDraw.Draw(out)
    side = max(out.size)
    width = width or max(1, side // 200)
    f = font(max(10, min(18, side // 40)))
    for b in faint or []:
        draw.rectangle(b, outline=(150, 150, 150), width=1)
    for k, (b, c) in enumerate(zip(boxes, classes)):
        col = colour(c)
        draw.rectangle(b, outline=col, width=width)
        text = names[c] if c < len(names) else str(c)
        if scores is not None:
            text += f" {scores[k]:.2f}"
        x, y = b[0], b[1] - f.size - 3 if b[1] >= f.size + 3 else b[1]  # above the box, or inside at the top
        tw = f.getlength(text)
        draw.rectangle([x, y, x + tw + 4, y + f.size + 3], fill=col)
        draw.text((x + 2, y + 1), text, fill="white", font=f)
    return out


def enlarged(img, side: int = 480):
    """Small images (the shapes are 128 px) enlarged so boxes, labels and masks stay legible: (image, factor)."""
    k = max(1.0, side / max(img.size))
    return (img.resize((round(img.width * k), round(img.height * k))) if k > 1 else img), k


def grid(images: list, columns: int, pad: int = 4):
    """Images (same size) tiled on white, ``columns`` per row."""
    from PIL import Image

    if not images:
        return None
    w, h = images[0].size
    rows = (len(images) + columns - 1) // columns
    out = Image.new("RGB", (columns * (w + pad) + pad, rows * (h + pad) + pad), "white")
    for i, im in enumerate(images):
        out.paste(im, (pad + (i % columns) * (w + pad), pad + (i // columns) * (h + pad)))
    return out


def class_colour(c: int) -> tuple[int, int, int]:
    """A segmentation class's colour: class 0 (background) is left uncoloured, class c > 0 gets the colour
    detection gives class c - 1 (the shapes then look the same in both tabs); 255 (ignore) is white."""
    return (255, 255, 255) if c == 255 else colour(c - 1)


def mask_overlay(img, mask, opacity: float):
    """``img`` (PIL) with each non-background class of ``mask`` ((H, W) ids, numpy) painted in its colour."""
    import numpy as np
    from PIL import Image

    base = np.asarray(img.convert("RGB"), dtype=np.float32)
    if mask.shape != base.shape[:2]:
        mask = np.asarray(Image.fromarray(mask).resize(img.size, Image.NEAREST))
    out = base.copy()
    for c in np.unique(mask):
        if c == 0:
            continue
        sel = mask == c
        out[sel] = (1 - opacity) * base[sel] + opacity * np.array(class_colour(int(c)), dtype=np.float32)
    return Image.fromarray(out.clip(0, 255).astype("uint8"))


def number_grid(title: str, matrix: list[list[float]], cell: int = 34, shade: bool = True):
    """A small matrix drawn with its numbers (for the transposed-convolution lesson)."""
    from PIL import Image, ImageDraw

    rows, cols = len(matrix), len(matrix[0]) if matrix else 0
    f, ft = font(11 if cell < 30 else 13), font(13)
    top = 24
    img = Image.new("RGB", (max(cols * cell + 2, int(ft.getlength(title)) + 4), top + rows * cell + 2), "white")
    draw = ImageDraw.Draw(img)
    draw.text((2, 4), title, fill="black", font=ft)
    hi = max((abs(v) for r in matrix for v in r), default=1) or 1
    for i, r in enumerate(matrix):
        for j, v in enumerate(r):
            x, y = 1 + j * cell, top + i * cell
            level = int(255 - 150 * abs(v) / hi) if shade else 255
            draw.rectangle([x, y, x + cell - 1, y + cell - 1], fill=(level, level, 255), outline=(180, 180, 200))
            if cell >= 20:
                text = f"{v:g}" if float(v).is_integer() else f"{v:.2f}"
                draw.text((x + cell / 2, y + cell / 2), text, fill="black", anchor="mm", font=f)
    return img


def row(images: list, pad: int = 16):
    """Images side by side, top-aligned, on white."""
    from PIL import Image

    w = sum(i.width for i in images) + pad * (len(images) + 1)
    h = max(i.height for i in images) + 2 * pad
    out = Image.new("RGB", (w, h), "white")
    x = pad
    for im in images:
        out.paste(im, (x, pad))
        x += im.width + pad
    return out


def captioned(img, text: str, wrap: bool = False):
    """``img`` with lines of ``text`` written under it (e.g. per-class scores under validation pictures); the
    picture widens to the longest line, or, with ``wrap``, the lines wrap at its width."""
    from PIL import Image, ImageDraw

    f = font(14)
    lines = text.splitlines() or [""]
    if wrap:
        lines = [part for line in lines for part in _wrapped(line, f, img.width - 20)]
    width = max(img.width, 20 + int(max(f.getlength(t) for t in lines)))
    out = Image.new("RGB", (width, img.height + 8 + 20 * len(lines)), "white")
    out.paste(img, (0, 0))
    draw = ImageDraw.Draw(out)
    for i, t in enumerate(lines):
        draw.text((6, img.height + 4 + 20 * i), t, fill="black", font=f)
    return out


def _wrapped(line: str, f, width: float) -> list[str]:
    """``line`` cut into pieces no wider than ``width`` in font ``f``: at spaces, or anywhere in a text written
    without them (Chinese)."""
    words = line.split(" ") if " " in line else list(line)
    gap = " " if " " in line else ""
    out = [""]
    for word in words:
        joined = out[-1] + gap + word if out[-1] else word
        if f.getlength(joined) <= width or not out[-1]:
            out[-1] = joined
        else:
            out.append(word)
    return out


def chart(title: str, series: list[tuple[str, list[float], list[float]]], xlabel: str, ylabel: str,
          size: tuple[int, int] = (420, 340), bars: bool = False, vline: tuple[str, float] | None = None,
          points: list[tuple[str, list[float], list[float]]] | None = None):
    """A line chart (or, with ``bars``, overlaid histograms: xs are bin centres) of named series, with
    axes, a legend, an optional labelled vertical line (a threshold) and named scatters of ``points``: PIL only."""
    from PIL import Image, ImageDraw

    w, h = size
    left, right, top, bottom = 46, 12, 28, 40
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    f, ft = font(11), font(14)
    points = points or []
    xs = [x for _, xv, _ in series + points for x in xv] + ([vline[1]] if vline else [])
    ys = [y for _, _, yv in series + points for y in yv]
    x0, x1 = min(xs, default=0.0), max(xs, default=1.0)
    y0, y1 = min(0.0, min(ys, default=0.0)), max(ys, default=1.0)
    x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 1)

    def px(x: float, y: float) -> tuple[float, float]:
        return (left + (x - x0) / (x1 - x0) * (w - left - right), h - bottom - (y - y0) / (y1 - y0) * (h - top - bottom))

    d.text((w / 2, 4), title, fill="black", font=ft, anchor="ma")
    d.rectangle([left, top, w - right, h - bottom], outline=(120, 120, 120))
    for k in range(5):
        xv, yv = x0 + (x1 - x0) * k / 4, y0 + (y1 - y0) * k / 4
        d.text(px(xv, y0)[0:1] + (h - bottom + 4,), f"{xv:.2g}", fill="black", font=f, anchor="ma")
        d.text((left - 4, px(x0, yv)[1]), f"{yv:.2g}", fill="black", font=f, anchor="rm")
    d.text((w / 2, h - 16), xlabel, fill="black", font=f, anchor="ma")
    d.text((4, top - 16), ylabel, fill="black", font=f)
    for i, (name, xv, yv) in enumerate(series):
        col = colour(i)
        if bars:
            step = (xv[1] - xv[0]) if len(xv) > 1 else 1.0
            for x, y in zip(xv, yv):
                a, b = px(x - step / 2, y), px(x + step / 2, y0)
                d.rectangle([a[0], a[1], b[0], b[1]], outline=col, width=2)
        elif len(xv) > 1:
            d.line([px(x, y) for x, y in zip(xv, yv)], fill=col, width=2)
        d.rectangle([left + 8, top + 8 + 16 * i, left + 20, top + 18 + 16 * i], fill=col)
        d.text((left + 24, top + 6 + 16 * i), name, fill="black", font=f)
    for i, (name, xv, yv) in enumerate(points, start=len(series)):
        col = colour(i)
        for x, y in zip(xv, yv):
            u, v = px(x, y)
            d.ellipse([u - 3, v - 3, u + 3, v + 3], outline=col, width=2)
        d.ellipse([left + 8, top + 8 + 16 * i, left + 20, top + 18 + 16 * i], outline=col, width=2)
        d.text((left + 24, top + 6 + 16 * i), name, fill="black", font=f)
    if vline:
        x = px(vline[1], y0)[0]
        d.line([x, top, x, h - bottom], fill=(0, 0, 0), width=1)
        d.text((x + 3, top + 2), vline[0], fill="black", font=f)
    return img


def confusion_image(labels: list[str], matrix: list[list[int]], cell: int = 0):
    """A confusion matrix as a PIL heatmap: rows are true classes, columns predictions."""
    from PIL import Image, ImageDraw

    from common.i18n import t

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
    for c, name in enumerate(labels):
        draw.text((pad + c * cell + cell / 2, pad - 8), name[:max(4, cell // 8)], fill="black", anchor="ms", font=small)
        draw.text((pad - 6, pad + c * cell + cell / 2), name[:9], fill="black", anchor="rm", font=small)
    draw.text((pad, 12), t("visual.predicted"), fill="gray", font=small)
    draw.text((4, pad - 24), t("visual.true"), fill="gray", font=small)
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

    items = []
    for c in present:
        swatch = "border:1px solid #999" if c == 0 else "background:rgb{}".format(class_colour(c))
        items.append(f'<span style="display:inline-flex;align-items:center;margin-right:14px">'
                     f'<span style="width:14px;height:14px;{swatch};display:inline-block;margin-right:5px">'
                     f'</span>{escape(labels[c])}</span>')
    return "<div>" + "".join(items) + "</div>"

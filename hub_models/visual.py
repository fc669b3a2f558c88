"""Pictures of results, shared by trainers (pictures saved with a model) and tabs: PIL only, no torch."""
from __future__ import annotations

from functools import lru_cache

_FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "DejaVuSans.ttf",
          "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf")
# Distinct colours for classes (Tableau 10), then repeats.
PALETTE = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
           (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207))


@lru_cache(maxsize=16)
def font(size: int):
    """A TrueType font with accents (DejaVu or Liberation where installed), else Pillow's own."""
    from PIL import ImageFont

    for path in _FONTS:
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

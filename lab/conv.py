"""The convolution explorer: cross-correlation, padding, stride, channels and pooling with every number shown
(d2l 6.2-6.5's worked examples are the defaults), and classic kernels on a photo.

What a convolutional layer computes is a cross-correlation: the kernel slides over the (padded) input, and each
output is the sum of the window times the kernel, summed over the input channels too. Its output side is
⌊(n + 2p − k) / s⌋ + 1 for input side n, padding p on each side, kernel k and stride s; :func:`output_side` is
checked against ``torch.nn.functional.conv2d`` and pooling in the tests.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from common.errors import UserError
from common.i18n import t

if TYPE_CHECKING:  # torch is imported where it runs: building the tab must not load it
    import torch

MAX_SIDE = 12  # a grid with every number shown stays readable up to this side
KERNELS: dict[str, list[list[float]]] = {
    "vertical edges": [[1, 0, -1], [1, 0, -1], [1, 0, -1]],
    "horizontal edges": [[1, 1, 1], [0, 0, 0], [-1, -1, -1]],
    "blur (box 3x3)": [[1 / 9] * 3] * 3,
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
}


def output_side(n: int, k: int, padding: int, stride: int) -> int:
    """⌊(n + 2p − k) / s⌋ + 1: the number of places a k-wide window fits in a padded side, s apart."""
    return (n + 2 * padding - k) // stride + 1


def parse_grid(text: str, what: str) -> torch.Tensor:
    """(channels, rows, columns) from text: numbers separated by spaces or commas, rows by ';' or new lines,
    channels by '|'. "0 1 2; 3 4 5; 6 7 8" is one 3x3 channel."""
    import torch

    channels = []
    for part in (text or "").split("|"):
        rows = [r for r in part.replace("\n", ";").split(";") if r.strip()]
        try:
            grid = [[float(v) for v in r.replace(",", " ").split()] for r in rows]
        except ValueError:
            raise UserError(t("lab.conv.only_numbers", what=what)) from None
        if not grid or any(len(r) != len(grid[0]) for r in grid):
            raise UserError(t("lab.conv.ragged_rows", what=what))
        channels.append(grid)
    if any(len(c) != len(channels[0]) or len(c[0]) != len(channels[0][0]) for c in channels):
        raise UserError(t("lab.conv.ragged_channels", what=what))
    out = torch.tensor(channels, dtype=torch.float64)
    if max(out.shape[1:]) > MAX_SIDE or out.shape[0] > 3:
        raise UserError(t("lab.conv.too_big", what=what, side=MAX_SIDE))
    return out


def correlate(x: torch.Tensor, k: torch.Tensor, padding: int, stride: int) -> dict[str, Any]:
    """Cross-correlate ``x`` (C, H, W) with ``k`` (C, kh, kw), written out: the output, the padded input and, per
    output cell, the sum that makes it."""
    import torch
    import torch.nn.functional as F

    if x.shape[0] != k.shape[0]:
        raise UserError(t("lab.conv.channels_differ", kernel=k.shape[0], input=x.shape[0]))
    _check(x, k.shape[1:], padding, stride)
    xp = F.pad(x, (padding,) * 4)
    kh, kw = k.shape[1:]
    oh, ow = output_side(x.shape[1], kh, padding, stride), output_side(x.shape[2], kw, padding, stride)
    y = torch.zeros(oh, ow, dtype=x.dtype)
    sums = []
    for i in range(oh):
        for j in range(ow):
            window = xp[:, i * stride:i * stride + kh, j * stride:j * stride + kw]
            y[i, j] = (window * k).sum()
            terms = " + ".join(f"{_n(a)}·{_n(b)}" for a, b in zip(window.flatten().tolist(), k.flatten().tolist()))
            sums.append(f"Y[{i},{j}] = {terms} = {_n(float(y[i, j]))}")
    reference = F.conv2d(x[None], k[None], padding=padding, stride=stride)[0, 0]  # what a Conv2d layer computes
    return {"output": y, "padded": xp, "sums": sums, "torch": reference, "agrees": torch.allclose(y, reference)}


def torch_pool(x: torch.Tensor, size: int, padding: int, stride: int, mode: str) -> torch.Tensor:
    """torch's own pooling of ``x`` (C, H, W), for comparison."""
    import torch.nn.functional as F

    fn = F.max_pool2d if mode == "max" else F.avg_pool2d
    return fn(x[None], size, stride=stride, padding=padding)[0]


def size_line(n: tuple[int, int], k: tuple[int, int], padding: int, stride: int, got: tuple[int, ...],
              what: str) -> str:
    """The output size by the formula, worked, next to what torch returned."""
    h, w = (output_side(a, b, padding, stride) for a, b in zip(n, k))
    ok = "✓" if (h, w) == tuple(got[-2:]) else "✗"
    return t("lab.conv.size_line", what=what, n0=n[0], n1=n[1], k0=k[0], k1=k[1], p=padding, s=stride, h=h, w=w,
             got=" x ".join(map(str, got[-2:])), ok=ok)


def pool(x: torch.Tensor, size: int, padding: int, stride: int, mode: str) -> torch.Tensor:
    """Max or average pooling of each channel of ``x`` (C, H, W), written out; padding counts as -inf for max
    and as 0 for the average, as torch's defaults do."""
    import torch
    import torch.nn.functional as F

    _check(x, (size, size), padding, stride)
    if padding * 2 > size:
        raise UserError(t("lab.conv.pool_padding"))
    fill = -math.inf if mode == "max" else 0.0
    xp = F.pad(x, (padding,) * 4, value=fill)
    oh, ow = output_side(x.shape[1], size, padding, stride), output_side(x.shape[2], size, padding, stride)
    y = torch.zeros(x.shape[0], oh, ow, dtype=x.dtype)
    for i in range(oh):
        for j in range(ow):
            w = xp[:, i * stride:i * stride + size, j * stride:j * stride + size]
            y[:, i, j] = w.amax((1, 2)) if mode == "max" else w.sum((1, 2)) / (size * size)
    return y


def _check(x: torch.Tensor, k: tuple[int, int], padding: int, stride: int) -> None:
    if stride < 1 or padding < 0:
        raise UserError(t("lab.conv.stride_padding"))
    if any(n + 2 * padding < s for n, s in zip(x.shape[1:], k)):
        raise UserError(t("lab.conv.window_too_big", kh=k[0], kw=k[1], h=x.shape[1] + 2 * padding,
                          w=x.shape[2] + 2 * padding))


def _n(v: float) -> str:
    return f"{v:g}" if float(v).is_integer() else f"{v:.3g}"


def grid_picture(x: torch.Tensor, k: torch.Tensor, result: dict[str, Any], pooled: torch.Tensor | None,
                 pool_mode: str):
    """Padded input channels, kernel channels, the output and the input's pooling, each with its numbers."""
    from hub_models.visual import number_grid, row

    parts = [number_grid(t("lab.conv.input_padded", ch=_ch(x, c)), result["padded"][c].tolist())
             for c in range(x.shape[0])]
    parts += [number_grid(t("lab.conv.kernel", ch=_ch(k, c)), k[c].tolist()) for c in range(k.shape[0])]
    parts.append(number_grid(t("lab.conv.output"), result["output"].tolist()))
    if pooled is not None:
        pooling = t("lab.conv.max_pool") if pool_mode == "max" else t("lab.conv.avg_pool")
        parts += [number_grid(f"{pooling}{_ch(pooled, c)}", pooled[c].tolist()) for c in range(pooled.shape[0])]
    return row(parts)


def _ch(x: torch.Tensor, c: int) -> str:
    return t("lab.conv.channel", c=c) if x.shape[0] > 1 else ""


def filter_photo(image: Any, kernel: str, padding: int, stride: int, side: int = 256) -> dict[str, Any]:
    """A classic kernel over the grey photo (resized to ``side`` px on its longer side): the filtered picture
    (edges: |Y| scaled to white), and the output size by the formula next to the one conv2d returned."""
    import torch
    import torch.nn.functional as F

    from PIL import Image

    from hub_models.inference import load_image

    if kernel not in KERNELS:
        raise UserError(t("lab.conv.pick_kernel", kernels=", ".join(KERNELS)))
    img = load_image(image, channels=1)
    img.thumbnail((side, side))
    x = torch.tensor(list(img.getdata()), dtype=torch.float32).view(1, 1, img.height, img.width) / 255
    k = torch.tensor(KERNELS[kernel], dtype=torch.float32).view(1, 1, 3, 3)
    if stride < 1 or padding < 0 or padding > 8:
        raise UserError(t("lab.conv.photo_stride_padding"))
    y = F.conv2d(x, k, padding=padding, stride=stride)[0, 0]
    y = y.abs() / y.abs().max().clamp(min=1e-6) if "edges" in kernel else y.clamp(0, 1)
    formula = (output_side(img.height, 3, padding, stride), output_side(img.width, 3, padding, stride))
    return {"input": img, "output": Image.fromarray((y * 255).round().byte().numpy(), mode="L"),
            "input_size": (img.height, img.width), "formula": formula, "torch": tuple(y.shape)}

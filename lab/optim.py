"""The optimiser lab: the update rules of the course's optimisers, written out, racing on 2-D loss surfaces.

Each rule is the one ``torch.optim`` implements with its default hyper-parameters (the tests step both on one
tensor and compare): SGD; momentum and Nesterov momentum (Sutskever et al., 2013,
http://proceedings.mlr.press/v28/sutskever13.html); AdaGrad (Duchi et al., 2011); RMSProp (Tieleman & Hinton,
2012); Adam (Kingma & Ba, 2015, https://arxiv.org/abs/1412.6980); AdamW's decoupled weight decay (Loshchilov &
Hutter, 2019, https://arxiv.org/abs/1711.05101). The surfaces are the notes' examples: an ill-conditioned
quadratic (d2l's 0.1 x^2 + 2 y^2), Rosenbrock's valley, a saddle point, Beale's function and a quadratic whose
gradients are noisy (what a minibatch sees).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable, Iterator

from common.i18n import t

if TYPE_CHECKING:  # torch is imported where it runs: building the tab must not load it
    import torch

OPTIMISERS = ("SGD", "Momentum", "Nesterov", "AdaGrad", "RMSProp", "Adam", "AdamW")
MOMENTUM, ALPHA, BETAS, EPS, ADAGRAD_EPS, WEIGHT_DECAY = 0.9, 0.99, (0.9, 0.999), 1e-8, 1e-10, 0.01
MAX_STEPS = 2000
DIVERGED = 1e6  # a coordinate this large: the optimiser left the picture for good


@dataclass(frozen=True)
class Surface:
    """A loss f(x, y) to minimise, where to start, what to draw and a learning rate per optimiser that shows its
    character there (the form's defaults)."""

    formula: str
    fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    start: tuple[float, float]
    box: tuple[float, float, float, float]  # x0, x1, y0, y1 of the picture
    minimum: tuple[float, float, float]  # x, y, f at the (a) global minimum
    lrs: dict[str, float]
    noise: float = 0.0  # standard deviation of the noise added to each gradient
    note: Callable[[], str] = str  # what the surface shows, in the language of the request being served


def _quadratic(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return 0.1 * x ** 2 + 2 * y ** 2


_QUADRATIC_LRS = {"SGD": 0.4, "Momentum": 0.04, "Nesterov": 0.04, "AdaGrad": 0.8, "RMSProp": 0.05, "Adam": 0.3,
                  "AdamW": 0.3}

SURFACES: dict[str, Surface] = {
    "ill-conditioned quadratic": Surface(
        "f = 0.1 x² + 2 y²", _quadratic, (-5.0, -2.0), (-6, 2, -3, 3), (0.0, 0.0, 0.0), _QUADRATIC_LRS,
        note=lambda: t("lab.optim.note_quadratic")),
    "Rosenbrock": Surface(
        "f = (1 − x)² + 100 (y − x²)²", lambda x, y: (1 - x) ** 2 + 100 * (y - x ** 2) ** 2, (-1.5, 2.0),
        (-2, 2, -1, 3), (1.0, 1.0, 0.0),
        {"SGD": 0.0015, "Momentum": 0.001, "Nesterov": 0.001, "AdaGrad": 0.8, "RMSProp": 0.03, "Adam": 0.1,
         "AdamW": 0.1},
        note=lambda: t("lab.optim.note_rosenbrock")),
    "saddle": Surface(
        "f = x² + y⁴/4 − y²", lambda x, y: x ** 2 + y ** 4 / 4 - y ** 2, (-2.0, 0.001), (-2.5, 2.5, -2.5, 2.5),
        (0.0, math.sqrt(2.0), -1.0),
        {"SGD": 0.05, "Momentum": 0.01, "Nesterov": 0.01, "AdaGrad": 0.5, "RMSProp": 0.05, "Adam": 0.1,
         "AdamW": 0.1},
        note=lambda: t("lab.optim.note_saddle")),
    "Beale": Surface(
        "f = (1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²",
        lambda x, y: (1.5 - x + x * y) ** 2 + (2.25 - x + x * y ** 2) ** 2 + (2.625 - x + x * y ** 3) ** 2,
        (1.0, 1.4), (-1, 4.5, -1.5, 2), (3.0, 0.5, 0.0),
        {"SGD": 0.005, "Momentum": 0.001, "Nesterov": 0.001, "AdaGrad": 0.5, "RMSProp": 0.01, "Adam": 0.05,
         "AdamW": 0.05},
        note=lambda: t("lab.optim.note_beale")),
    "noisy quadratic": Surface(
        "f = 0.1 x² + 2 y²", _quadratic, (-5.0, -2.0), (-6, 2, -3, 3), (0.0, 0.0, 0.0),
        _QUADRATIC_LRS, noise=1.0,
        note=lambda: t("lab.optim.note_noisy")),
}


@dataclass
class _State:
    t: int = 0
    buf: torch.Tensor | None = None  # momentum buffer, or Adam's first moment
    sq: torch.Tensor | None = None  # AdaGrad's sum, RMSProp's and Adam's average of squared gradients


def update(name: str, p: torch.Tensor, g: torch.Tensor, state: _State, lr: float) -> torch.Tensor:
    """One step of optimiser ``name`` from parameters ``p`` with gradient ``g`` (torch.optim's defaults)."""
    state.t += 1
    if name == "SGD":
        return p - lr * g
    if name in ("Momentum", "Nesterov"):
        state.buf = g.clone() if state.buf is None else MOMENTUM * state.buf + g
        return p - lr * (g + MOMENTUM * state.buf if name == "Nesterov" else state.buf)
    if name == "AdaGrad":
        state.sq = g * g if state.sq is None else state.sq + g * g
        return p - lr * g / (state.sq.sqrt() + ADAGRAD_EPS)
    if name == "RMSProp":
        state.sq = (1 - ALPHA) * g * g if state.sq is None else ALPHA * state.sq + (1 - ALPHA) * g * g
        return p - lr * g / (state.sq.sqrt() + EPS)
    if name in ("Adam", "AdamW"):
        if name == "AdamW":
            p = p * (1 - lr * WEIGHT_DECAY)  # decoupled: the decay does not pass through the adaptive scaling
        b1, b2 = BETAS
        state.buf = (1 - b1) * g if state.buf is None else b1 * state.buf + (1 - b1) * g
        state.sq = (1 - b2) * g * g if state.sq is None else b2 * state.sq + (1 - b2) * g * g
        m_hat, v_hat = state.buf / (1 - b1 ** state.t), state.sq / (1 - b2 ** state.t)  # bias correction
        return p - lr * m_hat / (v_hat.sqrt() + EPS)
    raise ValueError(f"unknown optimiser {name!r}; one of {', '.join(OPTIMISERS)}")


@dataclass
class _Schedule:  # what training.engine.lr_factor reads
    schedule: str
    warmup_steps: int


@dataclass
class Race:
    """Where each optimiser has been: ``paths[name]`` holds (x, y) per step, ``losses[name]`` f there;
    ``stopped[name]`` says why one stopped early."""

    name: str  # of the surface
    surface: Surface
    steps: int
    paths: dict[str, list[tuple[float, float]]]
    losses: dict[str, list[float]]
    stopped: dict[str, str]
    step: int = 0


def race(surface: str, lrs: dict[str, float], steps: int = 200, schedule: str = "constant", warmup: int = 0,
         start: tuple[float, float] | None = None, seed: int = 0, every: int = 1) -> Iterator[Race]:
    """Run the optimisers of ``lrs`` (name -> peak learning rate) from the same start on ``surface``; yields the
    race after every ``every`` steps (and at the end). The learning rate follows the trainers' schedules
    (training.engine.lr_factor: linear warm-up, then constant, cosine, step or one-cycle)."""
    from . import one_thread

    if surface not in SURFACES:
        raise ValueError(f"unknown surface {surface!r}; one of {', '.join(SURFACES)}")
    if not 1 <= steps <= MAX_STEPS:
        raise ValueError(f"steps must be between 1 and {MAX_STEPS}")
    return one_thread(_race(surface, lrs, steps, schedule, warmup, start, seed, every))


def _race(surface: str, lrs: dict[str, float], steps: int, schedule: str, warmup: int,
          start: tuple[float, float] | None, seed: int, every: int) -> Iterator[Race]:
    import torch

    from training.engine import lr_factor

    surf = SURFACES[surface]
    p0 = torch.tensor(start or surf.start, dtype=torch.float64)
    names = list(lrs)
    params, states = {n: p0.clone() for n in names}, {n: _State() for n in names}
    noise = torch.Generator().manual_seed(seed)
    f0 = float(surf.fn(p0[0], p0[1]))
    out = Race(surface, surf, steps, {n: [tuple(p0.tolist())] for n in names}, {n: [f0] for n in names}, {})
    plan = _Schedule(schedule, warmup)
    for i in range(steps):
        factor = lr_factor(plan, i, steps)  # type: ignore[arg-type]
        jitter = torch.randn(2, generator=noise, dtype=torch.float64) * surf.noise if surf.noise else None
        for n in names:
            if n in out.stopped:
                continue
            p = params[n].clone().requires_grad_(True)
            surf.fn(p[0], p[1]).backward()
            g = p.grad if jitter is None else p.grad + jitter  # the same noise for every optimiser
            new = update(n, params[n], g, states[n], lrs[n] * factor)
            if not torch.isfinite(new).all() or new.abs().max() > DIVERGED:
                out.stopped[n] = t("lab.optim.diverged", step=i + 1)
                continue
            params[n] = new
            out.paths[n].append(tuple(new.tolist()))
            out.losses[n].append(float(surf.fn(new[0], new[1])))
        out.step = i + 1
        if out.step % every == 0 or out.step == steps:
            yield out


# ------------------------------------------------------------------------------------------- pictures
SIDE = 440
_STOPS = ((68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37))  # viridis, five stops


@lru_cache(maxsize=len(SURFACES))
def _landscape(surface: str):
    """The surface as a picture: log10(f - f_min) in viridis with 14 contour lines (computed once)."""
    import torch

    import numpy as np
    from PIL import Image

    surf = SURFACES[surface]
    x0, x1, y0, y1 = surf.box
    xs = torch.linspace(x0, x1, SIDE, dtype=torch.float64)
    ys = torch.linspace(y1, y0, SIDE, dtype=torch.float64)  # the top row is the largest y
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    v = torch.log10(surf.fn(gx, gy) - surf.minimum[2] + 1e-3).numpy()
    v = (v - v.min()) / max(1e-9, float(v.max() - v.min()))
    pos = v * (len(_STOPS) - 1)
    i = np.clip(pos.astype(int), 0, len(_STOPS) - 2)
    frac = (pos - i)[..., None]
    stops = np.array(_STOPS, dtype=float)
    rgb = stops[i] * (1 - frac) + stops[i + 1] * frac
    level = np.floor(v * 14)
    edge = np.zeros_like(v, dtype=bool)
    edge[:, :-1] |= level[:, :-1] != level[:, 1:]
    edge[:-1, :] |= level[:-1, :] != level[1:, :]
    rgb[edge] = rgb[edge] * 0.55 + 255 * 0.45
    return Image.fromarray(rgb.astype("uint8"))


def _to_pixel(surf: Surface, x: float, y: float) -> tuple[float, float]:
    x0, x1, y0, y1 = surf.box
    return (x - x0) / (x1 - x0) * (SIDE - 1), (y1 - y) / (y1 - y0) * (SIDE - 1)


def race_picture(state: Race):
    """The trajectories over the surface beside log10(f - f_min) against the step, one colour per optimiser."""
    from PIL import ImageDraw

    from hub_models.visual import chart, colour, font, row

    surf = state.surface
    img = _landscape(state.name).copy()
    d = ImageDraw.Draw(img)
    mx, my = _to_pixel(surf, surf.minimum[0], surf.minimum[1])
    d.regular_polygon((mx, my, 8), 5, fill="white", outline="black")  # the minimum
    sx, sy = _to_pixel(surf, *next(iter(state.paths.values()))[0])
    d.ellipse([sx - 5, sy - 5, sx + 5, sy + 5], outline="white", width=2)  # the start
    for i, (name, path) in enumerate(state.paths.items()):
        pts = [_to_pixel(surf, x, y) for x, y in path]
        if len(pts) > 1:
            d.line(pts, fill=colour(i), width=2)
        x, y = pts[-1]
        d.ellipse([x - 4, y - 4, x + 4, y + 4], fill=colour(i), outline="black")
    d.rectangle([0, 0, SIDE, 22], fill=(30, 30, 30))  # the caption stays legible over any colour
    caption = surf.formula + (t("lab.optim.plus_noise") if surf.noise else "")
    d.text((6, 4), f"{caption}   " + t("lab.optim.step_of", step=state.step, steps=state.steps), fill="white",
           font=font(13))
    fmin = surf.minimum[2]
    series = [(t("lab.optim.diverged_name", name=name) if name in state.stopped else name, list(range(len(ls))),
               [math.log10(max(f - fmin, 1e-12)) for f in ls]) for name, ls in state.losses.items()]
    curves = chart(t("lab.optim.curves_title"), series, t("lab.step"), "log10", size=(SIDE, SIDE))
    return row([img, curves])


def summary(state: Race) -> list[list[Any]]:
    """Rows of (optimiser, final x, final y, final f, distance to the minimum, status) for a table."""
    surf = state.surface
    out = []
    for name, path in state.paths.items():
        x, y = path[-1]
        dist = math.hypot(x - surf.minimum[0], y - surf.minimum[1])
        out.append([name, round(x, 4), round(y, 4), float(f"{state.losses[name][-1]:.4g}"), round(dist, 4),
                    state.stopped.get(name, t("lab.optim.running") if state.step < state.steps else
                                      t("lab.optim.done"))])
    return out

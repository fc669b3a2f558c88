"""Linear regression two ways, and what model capacity does (d2l 3.1 and 3.6; Ng's bias and variance).

The model is linear in its features: ŷ = Φ(x) w with Φ(x) = [1, x, x², …, x^d]. The squared loss
L(w) = (1/2n) ‖Φ w − y‖² + (λ/2) ‖w‖² (the bias not decayed) has a closed form, the normal equations
w* = (ΦᵀΦ + n λ I′)⁻¹ Φᵀ y, and gradient descent w ← w − η ∇L reaches the same w* step by step when η is small
enough (below 2 / the largest eigenvalue of ΦᵀΦ/n + λ). Raising the degree d lowers the training error every time;
the validation error falls, then rises: underfitting (bias) on the left, overfitting (variance) on the right.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

from common.errors import UserError
from common.i18n import t

if TYPE_CHECKING:  # torch is imported where it runs: building the tab must not load it
    import torch

DATASETS = ("line", "sine", "cubic", "your CSV")
MAX_DEGREE, MAX_POINTS, MAX_STEPS = 15, 500, 20000


def make_data(name: str, n: int, noise: float, seed: int, csv: str = "") -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` points x in [-1, 1] and noisy targets y, float64; or the user's ``csv`` of x, target, its x scaled
    into [-1, 1] (powers of x up to 15 stay well-conditioned there) and shuffled by the seed."""
    import torch

    if name not in DATASETS:
        raise UserError(t("lab.pick_dataset", datasets=", ".join(DATASETS)))
    if name == "your CSV":
        from . import read_csv_rows

        if not csv:
            raise UserError(t("lab.csv_missing", columns="x, target"))
        rows = read_csv_rows(csv, ("x", "target"), MAX_POINTS, 4)
        try:
            xy = torch.tensor([[float(a), float(b)] for a, b in rows], dtype=torch.float64)
        except ValueError:
            raise UserError(t("lab.regression.two_numbers")) from None
        if not torch.isfinite(xy).all():
            raise UserError(t("lab.regression.finite_targets"))
        xy = xy[torch.randperm(len(xy), generator=torch.Generator().manual_seed(seed))]
        x = xy[:, 0] - (xy[:, 0].max() + xy[:, 0].min()) / 2
        return x / x.abs().max().clamp(min=1e-12), xy[:, 1]
    if not 4 <= n <= MAX_POINTS or not 0 <= noise <= 2:
        raise UserError(t("lab.regression.points_noise", max=MAX_POINTS))
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, generator=g, dtype=torch.float64) * 2 - 1
    clean = {"line": lambda t: 1.5 * t + 0.3, "sine": lambda t: torch.sin(math.pi * t),
             "cubic": lambda t: 2 * t ** 3 - t}[name](x)
    return x, clean + torch.randn(n, generator=g, dtype=torch.float64) * noise


def features(x: torch.Tensor, degree: int) -> torch.Tensor:
    """Φ(x) = [1, x, …, x^degree], (n, degree + 1)."""
    import torch

    if not 1 <= degree <= MAX_DEGREE:
        raise UserError(t("lab.regression.degree", max=MAX_DEGREE))
    return torch.stack([x ** k for k in range(degree + 1)], 1)


def closed_form(phi: torch.Tensor, y: torch.Tensor, l2: float = 0.0) -> torch.Tensor:
    """The normal equations' solution (ridge with λ; the bias not decayed). Computed as the least-squares solution
    of Φ stacked on √(nλ) I′ against y stacked on zeros, the same w*: forming ΦᵀΦ squares the condition number,
    which at degree 15 (about 1e10 already) loses the digits that tell the fits apart."""
    import torch

    n, d = phi.shape
    decay = torch.eye(d, dtype=phi.dtype) * math.sqrt(l2 * n)
    decay[0, 0] = 0
    a, b = torch.cat([phi, decay]), torch.cat([y, torch.zeros(d, dtype=y.dtype)])
    return torch.linalg.lstsq(a, b[:, None], driver="gelsd").solution[:, 0]


def loss(phi: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> float:
    """Mean squared error / 2 (the penalty apart: this is what is compared between train and validation)."""
    return float(((phi @ w - y) ** 2).mean() / 2)


def gradient_descent(phi: torch.Tensor, y: torch.Tensor, lr: float, steps: int, l2: float = 0.0,
                     every: int = 1) -> Iterator[tuple[int, torch.Tensor]]:
    """(step, w) every ``every`` steps of full-batch gradient descent from w = 0 (and at the end)."""
    import torch

    if not 0 < lr <= 10 or not 1 <= steps <= MAX_STEPS:
        raise UserError(t("lab.regression.lr_steps", max=MAX_STEPS))
    n, d = phi.shape
    w = torch.zeros(d, dtype=phi.dtype)
    mask = torch.ones(d, dtype=phi.dtype)
    mask[0] = 0
    for step in range(1, steps + 1):
        grad = phi.T @ (phi @ w - y) / n + l2 * mask * w
        w = w - lr * grad
        if not torch.isfinite(w).all() or float(w.abs().max()) > 1e12:
            raise UserError(t("lab.regression.diverged", step=step, limit=2 / largest_curvature(phi, l2)))
        if step % every == 0 or step == steps:
            yield step, w


def largest_curvature(phi: torch.Tensor, l2: float = 0.0) -> float:
    """The largest eigenvalue of the loss's Hessian ΦᵀΦ/n + λ: gradient descent converges for η < 2 / this."""
    import torch

    return float(torch.linalg.eigvalsh(phi.T @ phi / len(phi)).max()) + l2


@dataclass
class Split:
    x: torch.Tensor
    y: torch.Tensor
    vx: torch.Tensor
    vy: torch.Tensor


def split(name: str, n: int, noise: float, seed: int, val_fraction: float = 0.5, csv: str = "") -> Split:
    x, y = make_data(name, n, noise, seed, csv)
    n_val = max(2, int(len(x) * val_fraction))
    return Split(x[n_val:], y[n_val:], x[:n_val], y[:n_val])


def degree_sweep(data: Split, l2: float = 0.0) -> list[tuple[int, float, float]]:
    """(degree, train loss, validation loss) of the closed form for every degree: the bias-variance curve."""
    out = []
    for d in range(1, MAX_DEGREE + 1):
        w = closed_form(features(data.x, d), data.y, l2)
        out.append((d, loss(features(data.x, d), data.y, w), loss(features(data.vx, d), data.vy, w)))
    return out


def picture(data: Split, degree: int, w_closed: torch.Tensor, w_gd: torch.Tensor, step: int,
            history: list[tuple[int, float, float]], sweep: list[tuple[int, float, float]], closed_train: float):
    """The points with both fits, gradient descent's losses per step against the closed form's, and the sweep."""
    import torch

    from hub_models.visual import chart, row

    grid = torch.linspace(-1, 1, 200, dtype=torch.float64)
    phi = features(grid, degree)
    lo, hi = float(torch.cat([data.y, data.vy]).min()) - 0.5, float(torch.cat([data.y, data.vy]).max()) + 0.5
    train, val = t("lab.train"), t("lab.validation")
    fits = chart(t("lab.regression.fits_title", degree=degree, step=step), [
        (t("lab.regression.closed_form"), grid.tolist(), (phi @ w_closed).clamp(lo, hi).tolist()),
        (t("lab.regression.gradient_descent"), grid.tolist(), (phi @ w_gd).clamp(lo, hi).tolist()),
    ], "x", "y", size=(420, 360), points=[(train, data.x.tolist(), data.y.tolist()),
                                         (val, data.vx.tolist(), data.vy.tolist())])
    curves = chart(t("lab.regression.gd_loss"), [
        (train, [h[0] for h in history], [math.log10(max(h[1], 1e-12)) for h in history]),
        (val, [h[0] for h in history], [math.log10(max(h[2], 1e-12)) for h in history]),
        (t("lab.regression.closed_form_train"), [history[0][0], history[-1][0]],
         [math.log10(max(closed_train, 1e-12))] * 2),
    ], t("lab.step"), t("lab.regression.log10_loss"), size=(360, 360))
    sweeps = chart(t("lab.regression.sweep_title"), [
        (train, [s[0] for s in sweep], [math.log10(max(s[1], 1e-12)) for s in sweep]),
        (val, [s[0] for s in sweep], [math.log10(max(s[2], 1e-12)) for s in sweep]),
    ], t("lab.regression.degree_axis"), t("lab.regression.log10_loss"), size=(360, 360),
        vline=(f"d = {degree}", degree))
    return row([fits, curves, sweeps])

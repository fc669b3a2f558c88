"""Backpropagation written out on a two-layer network and one example, and the gradient check that catches a
wrong backward pass (CS231n's "gradient checks"; d2l 5.3).

The graph: z1 = W1 x + b1, h = act(z1), z2 = W2 h + b2 (one output), loss L = ½ (z2 − y)². :func:`forward_backward`
computes every node's value forward and ∂L/∂node backward by the chain rule, by hand; :func:`grad_check`
compares each parameter's gradient with the central difference (L(θ + ε) − L(θ − ε)) / 2ε and with autograd, by
relative error |a − n| / max(|a| + |n|, 1e-12): about 1e-10 in float64 when the backward pass is right, near 1
when it is wrong. ``bug`` plants a classic mistake in one layer's backward pass to show the check catching it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from common.errors import UserError
from common.i18n import t

if TYPE_CHECKING:  # torch is imported where it runs: building the tab must not load it
    import torch

ACTIVATIONS = ("sigmoid", "tanh", "relu")
# Each planted mistake (the tab's choices' values), and what it gets wrong in the language of the request served.
BUGS = {
    "none": lambda: t("lab.backprop.bug_none"),
    "activation derivative forgotten": lambda: t("lab.backprop.bug_forgotten"),  # i18n: not shown (a choice's value)
    "sigmoid derivative as σ(z)": lambda: t("lab.backprop.bug_sigmoid"),  # i18n: not shown (a choice's value)
    "W2 gradient without h": lambda: t("lab.backprop.bug_w2"),
    "b1 gradient doubled": lambda: t("lab.backprop.bug_b1"),
}
PASS = 1e-6  # relative error under this: the backward pass agrees with the numbers


def _act(name: str, z: torch.Tensor) -> torch.Tensor:
    import torch

    return torch.sigmoid(z) if name == "sigmoid" else torch.tanh(z) if name == "tanh" else z.clamp(min=0)


def _act_grad(name: str, z: torch.Tensor, h: torch.Tensor, bug: str) -> torch.Tensor:
    import torch

    if bug == "activation derivative forgotten":  # i18n: not shown (a choice's value)
        return torch.ones_like(z)
    if bug == "sigmoid derivative as σ(z)":  # i18n: not shown (a choice's value)
        return h
    return h * (1 - h) if name == "sigmoid" else 1 - h * h if name == "tanh" else (z > 0).to(z.dtype)


def torch_input(x1: float, x2: float) -> torch.Tensor:
    """The example as the graph takes it (float64: the gradient check's differences need the precision)."""
    import torch

    values = [float(x1 or 0), float(x2 or 0)]
    if any(abs(v) > 1e3 for v in values):
        raise UserError(t("lab.backprop.input_range"))
    return torch.tensor(values, dtype=torch.float64)


def init_params(seed: int, hidden: int = 3) -> dict[str, torch.Tensor]:
    import torch

    g = torch.Generator().manual_seed(seed)
    return {"W1": torch.randn(hidden, 2, generator=g, dtype=torch.float64) * 0.8,
            "b1": torch.randn(hidden, generator=g, dtype=torch.float64) * 0.1,
            "W2": torch.randn(1, hidden, generator=g, dtype=torch.float64) * 0.8,
            "b2": torch.zeros(1, dtype=torch.float64)}


def _forward(params: dict[str, torch.Tensor], x: torch.Tensor, act: str) -> tuple[torch.Tensor, ...]:
    """(z1, h, z2): the graph's nodes, forward."""
    z1 = params["W1"] @ x + params["b1"]
    h = _act(act, z1)
    return z1, h, params["W2"] @ h + params["b2"]


def loss_of(params: dict[str, torch.Tensor], x: torch.Tensor, y: float, act: str) -> torch.Tensor:
    return 0.5 * (_forward(params, x, act)[2] - y).pow(2).sum()


def forward_backward(params: dict[str, torch.Tensor], x: torch.Tensor, y: float, act: str,
                     bug: str = "none") -> dict[str, Any]:
    """Every node's value (forward) and gradient of the loss (backward, by hand): {"values", "grads"}."""
    import torch

    if act not in ACTIVATIONS:
        raise UserError(t("lab.pick_activation", activations=", ".join(ACTIVATIONS)))
    if bug not in BUGS:
        raise UserError(t("lab.backprop.pick_bug", bugs=", ".join(BUGS)))
    z1, h, z2 = _forward(params, x, act)
    loss = 0.5 * (z2 - y).pow(2).sum()
    d_z2 = z2 - y  # ∂L/∂z2
    d_W2 = d_z2[:, None] * (torch.ones_like(h)[None, :] if bug == "W2 gradient without h" else h[None, :])
    d_b2 = d_z2
    d_h = params["W2"].T @ d_z2
    d_z1 = d_h * _act_grad(act, z1, h, bug)
    d_W1 = d_z1[:, None] * x[None, :]
    d_b1 = d_z1 * (2 if bug == "b1 gradient doubled" else 1)
    return {"values": {"x": x, "z1": z1, "h": h, "z2": z2, "L": loss.reshape(1)},
            "grads": {"W1": d_W1, "b1": d_b1, "W2": d_W2, "b2": d_b2, "z1": d_z1, "h": d_h, "z2": d_z2,
                      "L": torch.ones(1, dtype=x.dtype)}}


def grad_check(params: dict[str, torch.Tensor], x: torch.Tensor, y: float, act: str, bug: str = "none",
               eps: float = 1e-6) -> list[list[Any]]:
    """One row per parameter entry: [name, backprop, numeric, autograd, relative error (backprop vs numeric), ok]."""
    if not 1e-10 <= eps <= 1e-1:
        raise UserError(t("lab.backprop.eps_range"))
    ours = forward_backward(params, x, y, act, bug)["grads"]
    leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    loss_of(leaves, x, y, act).backward()
    rows = []
    for name, value in params.items():
        for idx in range(value.numel()):
            plus, minus = {k: v.clone() for k, v in params.items()}, {k: v.clone() for k, v in params.items()}
            plus[name].view(-1)[idx] += eps
            minus[name].view(-1)[idx] -= eps
            numeric = float(loss_of(plus, x, y, act) - loss_of(minus, x, y, act)) / (2 * eps)
            analytic = float(ours[name].reshape(-1)[idx])
            error = abs(analytic - numeric) / max(abs(analytic) + abs(numeric), 1e-12)
            where = f"{name}[{', '.join(map(str, _unravel(idx, value.shape)))}]"
            rows.append([where, analytic, numeric, float(leaves[name].grad.reshape(-1)[idx]), error,
                         "✓" if error < PASS else "✗"])
    return rows


def _unravel(idx: int, shape: torch.Size) -> list[int]:
    out = []
    for n in reversed(shape):
        out.append(idx % n)
        idx //= n
    return list(reversed(out))


def graph_picture(result: dict[str, Any], act: str):
    """The graph left to right, each node with its values (forward, black) and ∂L/∂node (backward, red)."""
    from PIL import Image, ImageDraw

    from hub_models.visual import font

    values, grads = result["values"], result["grads"]
    nodes = [("x", t("lab.backprop.input_x")), ("z1", "z1 = W1 x + b1"), ("h", f"h = {act}(z1)"),
             ("z2", "z2 = W2 h + b2"), ("L", "L = ½ (z2 − y)²")]
    w, h, box_w = 1000, 250, 160
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    f, fb = font(12), font(13)
    gap = (w - len(nodes) * box_w) / (len(nodes) + 1)
    for i, (key, title) in enumerate(nodes):
        x0 = gap + i * (box_w + gap)
        d.rounded_rectangle([x0, 40, x0 + box_w, 210], 10, outline=(90, 90, 160), width=2)
        d.text((x0 + box_w / 2, 50), title, fill="black", font=fb, anchor="ma")
        d.text((x0 + 8, 76), t("lab.backprop.forward"), fill=(90, 90, 90), font=f)
        for j, v in enumerate(values[key].tolist()[:4]):
            d.text((x0 + 8, 92 + 15 * j), f"{v:+.4f}", fill="black", font=f)
        if key in grads:
            d.text((x0 + 84, 76), "∂L/∂·", fill=(180, 40, 40), font=f)
            for j, v in enumerate(grads[key].tolist()[:4]):
                d.text((x0 + 84, 92 + 15 * j), f"{v:+.4f}", fill=(180, 40, 40), font=f)
        if i:
            d.line([x0 - gap + 4, 125, x0 - 4, 125], fill=(90, 90, 160), width=2)
            d.polygon([(x0 - 4, 125), (x0 - 12, 120), (x0 - 12, 130)], fill=(90, 90, 160))
    d.text((w / 2, 222), t("lab.backprop.caption"), fill=(90, 90, 90), font=f, anchor="ma")
    return img

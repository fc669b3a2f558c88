"""The course's first GAN: a generator learns to turn noise into samples of a Gaussian (1-D, 2-D, or a
ring of eight Gaussians, where mode collapse shows), against a discriminator, both small MLPs. Trains
live in the page: every few steps it yields the losses, the moments of what it makes, the KL divergence
between the real Gaussian and a Gaussian fitted to the fakes, and a picture of both distributions with
the discriminator's decision D(x) = P(real)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from common.i18n import t

from .gen_catalog import GAN_LOSSES as LOSSES, TOY_TARGETS as TARGETS
from .generative import gaussian_kl
from .inference import InputError


@dataclass
class ToyConfig:
    target: str = TARGETS[0]
    mean: float = 3.0  # the real Gaussian's mean (each coordinate in 2-D); the ring's radius
    std: float = 0.5
    steps: int = 2000
    d_steps: int = 1  # discriminator updates per generator update (k in Goodfellow et al.'s algorithm)
    loss: str = "non-saturating"
    label_smoothing: float = 1.0  # the discriminator's target for real samples (0.9: one-sided smoothing)
    lr: float = 1e-3
    batch: int = 128
    hidden: int = 32
    seed: int = 0
    every: int = 50  # steps between updates of the picture


def _mlp(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
                         nn.Linear(hidden, n_out))


def check(cfg: ToyConfig) -> None:
    if cfg.target not in TARGETS:
        raise InputError(t("generative.toy_pick_target", targets=", ".join(TARGETS)))
    if cfg.loss not in LOSSES:
        raise InputError(t("generative.toy_pick_loss", losses=", ".join(LOSSES)))
    if not 0.05 <= cfg.std <= 5 or not -10 <= cfg.mean <= 10:
        raise InputError(t("generative.toy_mean_std"))
    if not 1 <= cfg.steps <= 20000 or not 1 <= cfg.d_steps <= 10:
        raise InputError(t("generative.toy_steps"))
    if not 0.5 <= cfg.label_smoothing <= 1 or not 1e-5 <= cfg.lr <= 0.1:
        raise InputError(t("generative.toy_label_lr"))


def real_samples(cfg: ToyConfig, n: int, g: torch.Generator) -> torch.Tensor:
    if cfg.target == TARGETS[0]:  # 1-D Gaussian
        return cfg.mean + cfg.std * torch.randn(n, 1, generator=g)
    if cfg.target == TARGETS[1]:  # 2-D Gaussian
        return cfg.mean + cfg.std * torch.randn(n, 2, generator=g)
    angle = torch.randint(0, 8, (n,), generator=g) * (math.pi / 4)
    centres = abs(cfg.mean) * torch.stack([angle.cos(), angle.sin()], 1)
    return centres + cfg.std * 0.3 * torch.randn(n, 2, generator=g)


def train_toy_gan(cfg: ToyConfig) -> Iterator[dict[str, Any]]:
    """Alternate ``d_steps`` discriminator updates and one generator update; yield a report (step,
    d_loss, g_loss, mean, std, kl, d_real, d_fake, picture) every ``every`` steps and at the end."""
    check(cfg)
    torch.manual_seed(cfg.seed)
    g = torch.Generator().manual_seed(cfg.seed)
    dim = 1 if cfg.target == TARGETS[0] else 2
    gen, disc = _mlp(dim, cfg.hidden, dim), _mlp(dim, cfg.hidden, 1)
    opt_g = torch.optim.Adam(gen.parameters(), lr=cfg.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), lr=cfg.lr, betas=(0.5, 0.999))
    for step in range(1, cfg.steps + 1):
        for _ in range(cfg.d_steps):
            real = real_samples(cfg, cfg.batch, g)
            fake = gen(torch.randn(cfg.batch, dim, generator=g)).detach()
            r, f = disc(real), disc(fake)
            d_loss = (F.binary_cross_entropy_with_logits(r, torch.full_like(r, cfg.label_smoothing))
                      + F.binary_cross_entropy_with_logits(f, torch.zeros_like(f)))
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
        logits = disc(gen(torch.randn(cfg.batch, dim, generator=g)))
        if cfg.loss == "minimax":  # minimise log(1 - D(G(z))): flat where D rejects the fakes early on
            g_loss = -F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits))
        else:  # maximise log D(G(z)): strong gradients exactly there
            g_loss = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        if step % cfg.every == 0 or step == cfg.steps or step == 1:
            yield report(cfg, gen, disc, step, d_loss.item(), g_loss.item())


@torch.no_grad()
def report(cfg: ToyConfig, gen: nn.Module, disc: nn.Module, step: int, d_loss: float, g_loss: float) -> dict:
    g = torch.Generator().manual_seed(12345)  # the same points every report: the picture moves only by training
    dim = 1 if cfg.target == TARGETS[0] else 2
    fake = gen(torch.randn(2000, dim, generator=g))
    real = real_samples(cfg, 2000, g)
    mean, std = fake.mean(0), fake.std(0).clamp_min(1e-4)
    if cfg.target == TARGETS[2]:  # the ring of 8 Gaussians
        kl = float("nan")  # not a Gaussian: no closed form
    else:  # KL(real || N fitted to the fakes), summed over the independent coordinates
        kl = float(sum(gaussian_kl(cfg.mean, cfg.std, m, s) for m, s in zip(mean.tolist(), std.tolist())))
    d_real = torch.sigmoid(disc(real)).mean().item()
    d_fake = torch.sigmoid(disc(fake)).mean().item()
    picture = (_picture_1d if dim == 1 else _picture_2d)(cfg, disc, real, fake, step)
    return {"step": step, "d_loss": d_loss, "g_loss": g_loss, "mean": mean.tolist(), "std": std.tolist(),
            "kl": kl, "d_real": d_real, "d_fake": d_fake, "picture": picture}


def _picture_1d(cfg: ToyConfig, disc: nn.Module, real: torch.Tensor, fake: torch.Tensor, step: int):
    from .visual import chart

    lo = min(cfg.mean - 4 * cfg.std, fake.min().item(), -1.0)
    hi = max(cfg.mean + 4 * cfg.std, fake.max().item(), 1.0)
    lo, hi = max(lo, cfg.mean - 15), min(hi, cfg.mean + 15)
    xs = torch.linspace(lo, hi, 120)
    density = torch.exp(-0.5 * ((xs - cfg.mean) / cfg.std) ** 2) / (cfg.std * math.sqrt(2 * math.pi))
    bins = 60
    hist = torch.histc(fake.squeeze(1).clamp(lo, hi), bins=bins, min=lo, max=hi)
    width = (hi - lo) / bins
    centres = lo + width * (torch.arange(bins) + 0.5)
    decision = torch.sigmoid(disc(xs[:, None])).squeeze(1)
    return chart(t("generative.toy_title_1d", step=step),
                 [(t("generative.toy_real_density"), xs.tolist(), density.tolist()),
                  (t("generative.toy_generated_histogram"), centres.tolist(), (hist / (len(fake) * width)).tolist()),
                  (t("generative.toy_decision"), xs.tolist(), decision.tolist())],
                 "x", t("generative.toy_y_axis"), size=(640, 380))


def _picture_2d(cfg: ToyConfig, disc: nn.Module, real: torch.Tensor, fake: torch.Tensor, step: int, side: int = 420):
    """D(x) as a background shade (white: sure it is fake, blue: sure it is real), real points in
    green, generated ones in orange."""
    from PIL import Image, ImageDraw

    from .visual import font

    both = torch.cat([real, fake])
    centre = real.mean(0)
    half = max(float((both - centre).abs().quantile(0.99)), 4 * cfg.std, 1.0) * 1.1
    axis = torch.linspace(-half, half, side // 4)
    grid_pts = torch.stack(torch.meshgrid(centre[1] + axis.flip(0), centre[0] + axis, indexing="ij"), -1)
    p = torch.sigmoid(disc(grid_pts.reshape(-1, 2).flip(1))).reshape(len(axis), len(axis))
    shade = (255 - p[..., None] * torch.tensor([150.0, 100.0, 0.0])).round().to(torch.uint8).numpy()
    img = Image.fromarray(shade, "RGB").resize((side, side), Image.BILINEAR)
    top = 26
    out = Image.new("RGB", (side, side + top), "white")
    out.paste(img, (0, top))
    d = ImageDraw.Draw(out)

    def px(pt: list[float]) -> tuple[float, float]:
        return ((pt[0] - centre[0].item() + half) / (2 * half) * side,
                top + (half - (pt[1] - centre[1].item())) / (2 * half) * side)

    for pts, colour in ((real[:600], (44, 160, 44)), (fake[:600], (255, 127, 14))):
        for pt in pts.tolist():
            x, y = px(pt)
            d.ellipse([x - 2, y - 2, x + 2, y + 2], fill=colour)
    d.text((side / 2, 4), t("generative.toy_title_2d", step=step), fill="black",
           font=font(12), anchor="ma")
    return out

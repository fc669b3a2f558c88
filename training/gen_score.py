"""Sample quality: the Fréchet distance (FID) between features of generated and held-out real images.

Inception's features (the usual FID) need ImageNet weights, which cannot be downloaded here, and say
little about 16-pixel digits anyway. So the features come from networks of this project:

- ``digits``: a small CNN trained in-project on the training split of the built-in digits (about 95 %
  validation accuracy, trained once in seconds and cached). Its 64 features before the classifier
  describe digits the way Inception's describe photos; it also classifies a conditional GAN's samples
  ("does the 3 row look like 3s").
- ``random``: the same CNN with fixed random weights, for other images (no in-domain network exists for
  an uploaded folder). Random-feature FIDs rank models of one data set sensibly, but are not comparable
  with published FIDs or across data sets.

Lower is better; the FID of held-out real images against training images is reported next to it as
the floor a perfect generator would reach with this many samples.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

SIDE = 16  # features are computed on 16x16 images (the digits are 8x8 underneath)
VERSION = 1  # bump when the network or its training changes: the cached weights are then retrained


class FeatureNet(nn.Module):
    def __init__(self, channels: int = 1):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(channels, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                                      nn.Linear(32 * (SIDE // 4) ** 2, 64), nn.ReLU())
        self.head = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def prepare(x: torch.Tensor, channels: int) -> torch.Tensor:
    """Images (B, C, S, S) in [0, 1] as the feature net takes them: ``channels`` channels, 16x16."""
    if x.shape[1] != channels:
        x = x.mean(1, keepdim=True) if channels == 1 else x.expand(-1, 3, -1, -1)
    return F.interpolate(x.float(), size=(SIDE, SIDE), mode="bilinear", align_corners=False, antialias=True) \
        if x.shape[-1] != SIDE else x.float()


def _digit_split() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    from .classification import load_digits_tensors, split

    x, y, _ = load_digits_tensors(SIDE)
    tr, va = split(len(x), 0.2, 0)
    return x[tr], y[tr], x[va], y[va]


def digit_net() -> FeatureNet:
    """The digit feature network: trained on first use (a few seconds), then loaded from the cache."""
    from safetensors.torch import load_model, save_model

    from hub.client import cache_root

    path = cache_root() / "scores" / f"digit-features-v{VERSION}.safetensors"
    net = FeatureNet(1)
    if path.exists():
        load_model(net, str(path))
        return net.eval()
    xt, yt, _, _ = _digit_split()
    g = torch.Generator().manual_seed(0)
    torch_state = torch.get_rng_state()
    torch.manual_seed(0)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    for _ in range(15):
        for idx in torch.randperm(len(xt), generator=g).split(64):
            shift = torch.randint(-1, 2, (2,), generator=g).tolist()  # small shifts: features robust to them
            loss = F.cross_entropy(net(torch.roll(xt[idx], shift, (2, 3))), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    torch.set_rng_state(torch_state)  # the caller's run stays as seeded
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_model(net, str(tmp))
    tmp.replace(path)
    return net.eval()


def random_net(channels: int) -> FeatureNet:
    state = torch.get_rng_state()
    torch.manual_seed(1234)
    net = FeatureNet(channels).eval()
    torch.set_rng_state(state)
    return net


class Scorer:
    """FID against a set of real images, with one feature network; ``kind`` is "digits" or "random"."""

    def __init__(self, kind: str, real: torch.Tensor, reference: torch.Tensor | None = None):
        self.kind = kind
        self.channels = 1 if kind == "digits" else real.shape[1]
        self.net = digit_net() if kind == "digits" else random_net(self.channels)
        self.real_stats = stats(self.features(real))
        # held-out real against training images, as many as will be generated: what a perfect model scores
        self.floor = self.fid(reference[:len(real)]) if reference is not None else None

    @torch.no_grad()
    def features(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.net.features(prepare(b, self.channels)) for b in x.split(256)]).double()

    def fid(self, fake: torch.Tensor) -> float:
        return frechet_distance(*self.real_stats, *stats(self.features(fake)))

    @torch.no_grad()
    def class_accuracy(self, fake: torch.Tensor, labels: torch.Tensor) -> float:
        """How often the digit network reads a conditional sample as the class it was asked for."""
        logits = torch.cat([self.net(prepare(b, 1)) for b in fake.split(256)])
        return (logits.argmax(1) == labels).float().mean().item()


def stats(f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return f.mean(0), torch.cov(f.T)


def frechet_distance(mu1: torch.Tensor, s1: torch.Tensor, mu2: torch.Tensor, s2: torch.Tensor) -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)): the 2-Wasserstein distance between two Gaussians.
    Tr((S1 S2)^(1/2)) is the sum of the square roots of the eigenvalues of S1^(1/2) S2 S1^(1/2), a symmetric
    matrix: no general matrix square root is needed."""
    w, v = torch.linalg.eigh(s1)
    root1 = v @ torch.diag(w.clamp_min(0).sqrt()) @ v.T
    inner = torch.linalg.eigvalsh(root1 @ s2 @ root1).clamp_min(0).sqrt().sum()
    return float(((mu1 - mu2) ** 2).sum() + torch.trace(s1) + torch.trace(s2) - 2 * inner)


def digit_accuracy() -> float:
    """The digit network's accuracy on the digits' validation split (said in the docs)."""
    _, _, xv, yv = _digit_split()
    with torch.no_grad():
        return (digit_net()(xv).argmax(1) == yv).float().mean().item()

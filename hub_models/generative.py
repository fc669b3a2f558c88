"""Generative models: DCGAN (and its class-conditional form), VAE (MLP or convolutional), PixelCNN (the
autoregressive family: one pixel at a time, with an exact likelihood) and DDPM (a ``diffusers``
UNet2DModel with its DDPMScheduler, saved as a pipeline plain diffusers loads), plus the Gaussian KL and
VAE loss the course derives, sampling, latent maps and walks.

Images are tensors (B, C, S, S) in [0, 1] at the edges of this module; GANs and DDPMs work in [-1, 1]
inside, the VAE's decoder gives Bernoulli means in [0, 1].
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from common.i18n import t

from .cache import model_cache
from .gen_catalog import ALL_CLASSES, MAX_SAMPLES, SIZES
from .inference import InputError
from .registry import Published


# ----------------------------------------------------------------- the maths
def gaussian_kl(mu1: float | torch.Tensor, sigma1: float | torch.Tensor, mu2: float | torch.Tensor = 0.0,
                sigma2: float | torch.Tensor = 1.0) -> torch.Tensor:
    """KL(N(mu1, sigma1^2) || N(mu2, sigma2^2)) in closed form: log(s2/s1) + (s1^2 + (m1 - m2)^2) / (2 s2^2) - 1/2."""
    mu1, sigma1, mu2, sigma2 = (torch.as_tensor(v, dtype=torch.float64) for v in (mu1, sigma1, mu2, sigma2))
    return torch.log(sigma2 / sigma1) + (sigma1 ** 2 + (mu1 - mu2) ** 2) / (2 * sigma2 ** 2) - 0.5


def kl_to_unit(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) per example, summed over latent dimensions: the VAE's prior term."""
    return -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(dim=1)


def vae_loss(logits: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, beta: float = 1.0,
             recon: str = "bce") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(loss, reconstruction, KL), each the mean over the batch of a per-image sum: the negative ELBO
    with the KL term weighted by ``beta`` (1: the plain VAE; more: a smoother, less detailed latent space).
    ``recon``: "bce" (Bernoulli pixels, on the decoder's logits) or "mse" (Gaussian pixels)."""
    if recon == "bce":
        r = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    else:
        r = (torch.sigmoid(logits) - x) ** 2
    r = r.flatten(1).sum(1).mean()
    kl = kl_to_unit(mu, logvar).mean()
    return r + beta * kl, r, kl


# ---------------------------------------------------------------------- GANs
def _check_size(size: int) -> None:
    if size not in SIZES:
        raise ValueError(f"image size must be one of {', '.join(map(str, SIZES))}, got {size}")


class DCGAN(nn.Module, Published, library_name="pytorch", license="mit",
            pipeline_tag="unconditional-image-generation", tags=["dl-playground", "gan", "dcgan"]):
    """Radford et al.'s DCGAN: the generator grows a 4x4 map to the image with stride-2 transposed convs,
    BatchNorm and ReLU (tanh out); the discriminator mirrors it with stride-2 convs and LeakyReLU.
    With ``num_classes`` it is a conditional GAN (Mirza and Osindero): the generator gets a class
    embedding next to z, the discriminator one-hot class maps next to the pixels."""

    def __init__(self, image_size: int = 16, channels: int = 1, latent_dim: int = 64, width: int = 32,
                 num_classes: int = 0, labels: list[str] | None = None, label_smoothing: float = 0.9):
        super().__init__()
        _check_size(image_size)
        self.image_size, self.channels, self.latent_dim, self.num_classes = image_size, channels, latent_dim, num_classes
        self.labels = list(labels or [str(i) for i in range(num_classes)])
        self.label_smoothing = label_smoothing
        ups = int(math.log2(image_size // 4))
        top = width * 2 ** (ups - 1)
        self.embed = nn.Embedding(num_classes, 16) if num_classes else None
        self.project = nn.Sequential(nn.Linear(latent_dim + (16 if num_classes else 0), top * 16),
                                     nn.BatchNorm1d(top * 16), nn.ReLU(True))
        layers: list[nn.Module] = []
        ch = top
        for i in range(ups):
            last = i == ups - 1
            layers.append(nn.ConvTranspose2d(ch, channels if last else ch // 2, 4, 2, 1, bias=last))
            if not last:
                layers += [nn.BatchNorm2d(ch // 2), nn.ReLU(True)]
                ch //= 2
        self.generator = nn.Sequential(*layers, nn.Tanh())
        self.top = top
        d: list[nn.Module] = []
        ch_in, ch = channels + num_classes, width
        for i in range(ups):
            d += [nn.Conv2d(ch_in, ch, 4, 2, 1, bias=i == 0)]
            d += [nn.LeakyReLU(0.2, True)] if i == 0 else [nn.BatchNorm2d(ch), nn.LeakyReLU(0.2, True)]
            ch_in, ch = ch, ch * 2
        side = image_size // 2 ** ups  # 4
        self.discriminator = nn.Sequential(*d, nn.Flatten(), nn.Linear(ch_in * side * side, 1))

    @property
    def conditional(self) -> bool:
        return self.num_classes > 0

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """z (B, latent) [and class ids (B,)] -> images (B, C, S, S) in [-1, 1]."""
        if self.conditional:
            z = torch.cat([z, self.embed(labels)], dim=1)
        return self.generator(self.project(z).view(len(z), self.top, 4, 4))

    def discriminate(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images in [-1, 1] [and class ids] -> logits (B,) of "real"."""
        if self.conditional:
            maps = F.one_hot(labels, self.num_classes).to(x.dtype)[:, :, None, None]
            x = torch.cat([x, maps.expand(-1, -1, *x.shape[-2:])], dim=1)
        return self.discriminator(x).squeeze(1)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.generate(z, labels)

    def generator_parameters(self) -> list[nn.Parameter]:
        return [*self.project.parameters(), *self.generator.parameters(),
                *(self.embed.parameters() if self.embed is not None else [])]

    def discriminator_parameters(self) -> list[nn.Parameter]:
        return list(self.discriminator.parameters())


def gan_losses(model: DCGAN, x: torch.Tensor, labels: torch.Tensor | None, z: torch.Tensor,
               loss: str = "non-saturating") -> tuple[torch.Tensor, Any]:
    """The discriminator's loss on real ``x`` (in [-1, 1], targets ``label_smoothing``) and generated
    images (targets 0), and a function giving the generator's loss on the same fakes (run it after the
    discriminator's step): non-saturating -log D(G(z)), or the minimax log(1 - D(G(z)))."""
    fake = model.generate(z, labels)
    real_logits = model.discriminate(x, labels)
    fake_logits = model.discriminate(fake.detach(), labels)
    d_loss = (F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, model.label_smoothing))
              + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))

    def g_loss() -> torch.Tensor:
        logits = model.discriminate(fake, labels)
        if loss == "minimax":
            return -F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits))  # log(1 - D): saturates
        return F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))

    return d_loss, g_loss


# ----------------------------------------------------------------------- VAE
class VAE(nn.Module, Published, library_name="pytorch", license="mit",
          pipeline_tag="unconditional-image-generation", tags=["dl-playground", "vae"]):
    """Kingma and Welling's variational autoencoder. The encoder gives the mean and log-variance of
    q(z|x); z = mu + sigma * eps (the reparameterisation trick) goes through the decoder, which gives
    Bernoulli logits per pixel. ``kind``: "mlp" (two hidden layers) or "conv" (two stride-2 convs)."""

    def __init__(self, image_size: int = 16, channels: int = 1, latent_dim: int = 2, kind: str = "mlp",
                 width: int = 32, beta: float = 1.0, recon: str = "bce", labels: list[str] | None = None):
        super().__init__()
        _check_size(image_size)
        if kind not in ("mlp", "conv"):
            raise ValueError(f"kind must be mlp or conv, got {kind!r}")
        if not 1 <= latent_dim <= 512:
            raise ValueError(f"latent size must be between 1 and 512, got {latent_dim}")
        self.image_size, self.channels, self.latent_dim, self.kind = image_size, channels, latent_dim, kind
        self.beta, self.recon, self.labels = beta, recon, list(labels or [])
        pixels = channels * image_size * image_size
        if kind == "mlp":
            hidden = width * 8
            self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(pixels, hidden), nn.ReLU(True),
                                         nn.Linear(hidden, hidden), nn.ReLU(True), nn.Linear(hidden, 2 * latent_dim))
            self.decoder = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(True), nn.Linear(hidden, hidden),
                                         nn.ReLU(True), nn.Linear(hidden, pixels),
                                         nn.Unflatten(1, (channels, image_size, image_size)))
        else:
            s = image_size // 4
            self.encoder = nn.Sequential(nn.Conv2d(channels, width, 4, 2, 1), nn.ReLU(True),
                                         nn.Conv2d(width, 2 * width, 4, 2, 1), nn.ReLU(True), nn.Flatten(),
                                         nn.Linear(2 * width * s * s, 2 * latent_dim))
            self.decoder = nn.Sequential(nn.Linear(latent_dim, 2 * width * s * s), nn.ReLU(True),
                                         nn.Unflatten(1, (2 * width, s, s)),
                                         nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.ReLU(True),
                                         nn.ConvTranspose2d(width, channels, 4, 2, 1))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar.clamp(-12, 8)  # keeps exp(logvar) finite however the encoder drifts

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latent points (B, latent) -> images (B, C, S, S) in [0, 1]."""
        return torch.sigmoid(self.decoder(z))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Images in [0, 1] -> (decoder logits, mu, logvar), z drawn with the reparameterisation trick."""
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        return self.decoder(z), mu, logvar


# ------------------------------------------------------------------ PixelCNN
class MaskedConv2d(nn.Conv2d):
    """A convolution that sees only the pixels before the centre in raster order: the rows above, and the
    pixels to the left in its row. Mask "A" (the first layer) hides the centre itself, so an output never
    sees the pixel it predicts; "B" (later layers) lets it see the centre, which by then holds only
    information from before it. All channels of a pixel are predicted together from the pixels before it."""

    def __init__(self, mask: str, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        c = kernel_size // 2
        m = torch.ones_like(self.weight)
        m[:, :, c, c + (mask == "B"):] = 0
        m[:, :, c + 1:] = 0
        self.register_buffer("mask", m, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, self.stride, self.padding)


class PixelCNN(nn.Module, Published, library_name="pytorch", license="mit",
               pipeline_tag="unconditional-image-generation", tags=["dl-playground", "pixelcnn", "autoregressive"]):
    """van den Oord et al.'s PixelCNN: p(x) = prod_i p(x_i | x_1..x_{i-1}) over the pixels in raster order,
    each a softmax over ``levels`` intensities. A 7x7 mask-A convolution, then residual 3x3 mask-B layers
    and 1x1 layers to the logits. Training is one pass (every pixel's prediction at once, the masks keep it
    honest); sampling is one pass per pixel. Its loss is an exact likelihood, reported in bits per pixel."""

    def __init__(self, image_size: int = 16, channels: int = 1, levels: int = 8, width: int = 32, layers: int = 5,
                 labels: list[str] | None = None):
        super().__init__()
        _check_size(image_size)
        if not 2 <= levels <= 256:
            raise ValueError(f"levels must be between 2 and 256, got {levels}")
        self.image_size, self.channels, self.levels, self.layers = image_size, channels, levels, layers
        self.labels = list(labels or [])
        self.first = MaskedConv2d("A", channels, width, 7)
        self.blocks = nn.ModuleList(MaskedConv2d("B", width, width, 3) for _ in range(layers))
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(width, width, 1), nn.ReLU(), nn.Conv2d(width, channels * levels, 1))

    @property
    def reach(self) -> int:
        """How many rows above a pixel can change its prediction (the receptive field's height)."""
        return 3 + self.layers

    def quantize(self, x: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] -> intensity ids in 0..levels-1."""
        return (x.clamp(0, 1) * (self.levels - 1)).round().long()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] (B, C, H, W) -> logits (B, levels, C, H, W) of each pixel given the ones before it."""
        h = self.first(self.quantize(x).float() / (self.levels - 1) * 2 - 1)
        for block in self.blocks:
            h = h + block(F.relu(h))
        b, _, height, w = h.shape
        return self.head(h).view(b, self.levels, self.channels, height, w)

    def nll(self, x: torch.Tensor) -> torch.Tensor:
        """The mean negative log-likelihood of images in [0, 1], in bits per pixel (per channel)."""
        return F.cross_entropy(self(x), self.quantize(x)) / math.log(2)


# ---------------------------------------------------------------------- DDPM
def make_unet(image_size: int, channels: int, width: int = 32):
    """A small diffusers UNet2DModel: two or three resolutions, attention at the lowest."""
    from diffusers import UNet2DModel

    _check_size(image_size)
    levels = 2 if image_size <= 8 else 3
    chans = (width, 2 * width, 2 * width)[:levels]
    return UNet2DModel(sample_size=image_size, in_channels=channels, out_channels=channels,
                       block_out_channels=chans, layers_per_block=1, norm_num_groups=8,
                       down_block_types=("DownBlock2D",) * (levels - 1) + ("AttnDownBlock2D",),
                       up_block_types=("AttnUpBlock2D",) + ("UpBlock2D",) * (levels - 1))


class DDPM(nn.Module):
    """Ho et al.'s denoising diffusion: the UNet learns to predict the noise that was added to an
    image at a random step t of the schedule; sampling walks the schedule back from pure noise.
    Saved as a diffusers pipeline folder (model_index.json, unet/, scheduler/)."""

    def __init__(self, unet, scheduler, labels: list[str] | None = None):
        super().__init__()
        self.unet, self.scheduler, self.labels = unet, scheduler, list(labels or [])

    @property
    def image_size(self) -> int:
        return int(self.unet.config.sample_size)

    @property
    def channels(self) -> int:
        return int(self.unet.config.in_channels)

    @classmethod
    def new(cls, image_size: int = 16, channels: int = 1, width: int = 32, timesteps: int = 1000) -> "DDPM":
        from diffusers import DDPMScheduler

        return cls(make_unet(image_size, channels, width), DDPMScheduler(num_train_timesteps=timesteps))

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        """x in [-1, 1]: the MSE between the noise added at a random step and the UNet's guess of it."""
        noise = torch.randn_like(x)
        steps = torch.randint(0, self.scheduler.config.num_train_timesteps, (len(x),), device=x.device)
        return F.mse_loss(self.unet(self.scheduler.add_noise(x, noise, steps), steps).sample, noise)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.loss(x)

    def save_pretrained(self, folder: str | Path) -> None:
        from diffusers import DDPMPipeline

        DDPMPipeline(unet=self.unet, scheduler=self.scheduler).save_pretrained(str(folder))
        if self.labels:
            (Path(folder) / "labels.json").write_text(json.dumps(self.labels))


def load_generative(folder: str | Path) -> nn.Module:
    """A generative model folder in eval mode: a diffusers DDPM pipeline (model_index.json), or our
    DCGAN, VAE or PixelCNN (config.json)."""
    from .registry import class_for

    path = Path(folder)
    try:
        if (path / "model_index.json").exists():
            from diffusers import DDPMPipeline

            index = json.loads((path / "model_index.json").read_text())
            if index.get("_class_name") not in ("DDPMPipeline", "DDIMPipeline"):
                raise ValueError(t("generative.not_ddpm_pipeline", name=index.get("_class_name")))
            pipe = DDPMPipeline.from_pretrained(str(path))  # safetensors, else a .bin read with weights_only
            labels = json.loads((path / "labels.json").read_text()) if (path / "labels.json").exists() else []
            return DDPM(pipe.unet, pipe.scheduler, labels).eval()
        config = json.loads((path / "config.json").read_text())
        cls = class_for(config, [DCGAN, VAE, PixelCNN])
        if cls is None:
            raise ValueError(t("generative.unknown_config"))
        return cls.from_pretrained(path).eval()
    except (OSError, ValueError, KeyError, RuntimeError, TypeError) as e:
        raise InputError(t("generative.not_generative", name=path.name,
                           why=str(e).splitlines()[0] if str(e) else type(e).__name__)) from None


@model_cache(maxsize=4)
def load_cached(folder: str) -> nn.Module:
    return load_generative(folder)


def describe(model: nn.Module) -> str:
    """One line: family, size, latent and classes."""
    n = sum(p.numel() for p in model.parameters())
    size = f"{model.image_size}x{model.image_size}x{model.channels}"
    millions = n / 1e6
    if isinstance(model, DCGAN):
        if model.conditional:
            return t("generative.describe_cgan", classes=model.num_classes, size=size, latent=model.latent_dim,
                     millions=millions)
        return t("generative.describe_dcgan", size=size, latent=model.latent_dim, millions=millions)
    if isinstance(model, VAE):
        return t("generative.describe_vae", kind=model.kind, size=size, latent=model.latent_dim, beta=model.beta,
                 millions=millions)
    if isinstance(model, PixelCNN):
        return t("generative.describe_pixelcnn", size=size, levels=model.levels, layers=model.layers,
                 millions=millions)
    return t("generative.describe_ddpm", size=size, timesteps=model.scheduler.config.num_train_timesteps,
             millions=millions)


# ------------------------------------------------------------------ sampling
def class_index(model: nn.Module, name: str) -> int:
    labels = getattr(model, "labels", [])
    if name not in labels:
        raise InputError(t("generative.not_a_class", classes=", ".join(labels) or t("generative.no_classes"),
                           name=repr(name)))
    return labels.index(name)


@torch.no_grad()
def sample(model: nn.Module, n: int, seed: int = 0, labels: torch.Tensor | None = None,
           temperature: float = 1.0) -> torch.Tensor:
    """``n`` samples (n, C, S, S) in [0, 1] of a GAN or VAE, from a seeded prior; a conditional GAN
    takes class ids (n,) (default: cycling through the classes)."""
    g = torch.Generator().manual_seed(int(seed))
    z = torch.randn(n, model.latent_dim, generator=g) * temperature
    if isinstance(model, VAE):
        return model.decode(z)
    if model.conditional and labels is None:
        labels = torch.arange(n) % model.num_classes
    return (model.generate(z, labels if model.conditional else None) + 1) / 2


def class_rows(model: DCGAN, per_class: int, seed: int = 0) -> torch.Tensor:
    """A conditional GAN's samples, one row per class: the same z along each column, so a column
    shows one 'style' drawn as every class."""
    k = model.num_classes
    g = torch.Generator().manual_seed(int(seed))
    z = torch.randn(per_class, model.latent_dim, generator=g).repeat(k, 1)
    labels = torch.arange(k).repeat_interleave(per_class)
    with torch.no_grad():
        return (model.generate(z, labels) + 1) / 2


def diffusion_steps(model: DDPM, n: int, seed: int = 0, steps: int = 50, sampler: str = "ddim",
                    every: int = 5) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
    """Denoise ``n`` images from pure noise with ``steps`` scheduler steps ("ddpm": ancestral, the full
    schedule is its native one; "ddim": deterministic, few steps suffice). Yields (step done, x_t, the
    predicted clean image) every ``every`` steps and at the end, all in [0, 1]."""
    from diffusers import DDIMScheduler, DDPMScheduler

    total = model.scheduler.config.num_train_timesteps
    if not 1 <= steps <= total:
        raise InputError(t("generative.steps_range", total=total))
    cls = DDIMScheduler if sampler == "ddim" else DDPMScheduler
    sched = cls.from_config(model.scheduler.config)
    sched.set_timesteps(steps)
    g = torch.Generator().manual_seed(int(seed))
    x = torch.randn(n, model.channels, model.image_size, model.image_size, generator=g)
    with torch.no_grad():
        for i, timestep in enumerate(sched.timesteps):  # (not t: that is common.i18n's)
            out = sched.step(model.unet(x, timestep).sample, timestep, x, generator=g)
            x = out.prev_sample
            if (i + 1) % every == 0 or i + 1 == len(sched.timesteps):
                yield i + 1, ((x + 1) / 2).clamp(0, 1), ((out.pred_original_sample + 1) / 2).clamp(0, 1)


@torch.no_grad()
def pixel_steps(model: PixelCNN, n: int, seed: int = 0, temperature: float = 1.0,
                every: int = 1) -> Iterator[tuple[int, torch.Tensor]]:
    """Draw ``n`` images one pixel at a time in raster order, each from the softmax over intensities given
    the pixels drawn before it. Yields (rows done, the images so far) every ``every`` rows and at the end.
    Only the rows a pixel can see go through the network, so a row costs the same at any image size."""
    g = torch.Generator().manual_seed(int(seed))
    s, c, levels = model.image_size, model.channels, model.levels
    x = torch.zeros(n, c, s, s)
    for i in range(s):
        top = max(0, i - model.reach)  # rows above this are out of the masks' reach: the output is exact
        for j in range(s):
            logits = model(x[:, :, top:i + 1])[:, :, :, i - top, j] / max(temperature, 1e-3)  # (n, levels, C)
            probs = logits.softmax(1).permute(0, 2, 1).reshape(-1, levels)
            x[:, :, i, j] = torch.multinomial(probs, 1, generator=g).view(n, c).float() / (levels - 1)
        if (i + 1) % every == 0 or i + 1 == s:
            yield i + 1, x.clone()


def generate(model: nn.Module, n: int, seed: int = 0, steps: int = 50, sampler: str = "ddim") -> torch.Tensor:
    """Samples of any family here, (n, C, S, S) in [0, 1]."""
    if isinstance(model, DDPM):
        *_, (_, x, _) = diffusion_steps(model, n, seed, steps, sampler, every=steps)
        return x
    if isinstance(model, PixelCNN):
        *_, (_, x) = pixel_steps(model, n, seed, every=model.image_size)
        return x
    return sample(model, n, seed)


# ------------------------------------------------------------- the VAE's latent
@torch.no_grad()
def latent_map(model: VAE, side: int = 15, extent: float = 2.5) -> torch.Tensor:
    """A 2-D latent space decoded on a ``side`` x ``side`` grid of points in [-extent, extent]^2 (rows:
    z2 from high to low, columns: z1 from low to high), (side^2, C, S, S)."""
    if model.latent_dim != 2:
        raise InputError(t("generative.latent_map_2d", dim=model.latent_dim))
    axis = torch.linspace(-extent, extent, side)
    z = torch.stack(torch.meshgrid(axis.flip(0), axis, indexing="ij"), -1).reshape(-1, 2).flip(1)
    return model.decode(z)


@torch.no_grad()
def latent_walk(model: VAE, a: torch.Tensor, b: torch.Tensor, steps: int = 10) -> torch.Tensor:
    """Decoded points on the straight line from latent ``a`` to ``b`` (steps, C, S, S)."""
    w = torch.linspace(0, 1, steps)[:, None]
    return model.decode(a[None] * (1 - w) + b[None] * w)


def prior_point(model: VAE, seed: int) -> torch.Tensor:
    return torch.randn(model.latent_dim, generator=torch.Generator().manual_seed(int(seed)))


def image_tensor(model: nn.Module, image: Any) -> torch.Tensor:
    """A user's image as the model sees it: (1, C, S, S) in [0, 1] (grayscale models: light ink on dark,
    as the digits are; a light-background scan is inverted)."""
    from PIL import ImageOps, ImageStat

    from .inference import image_to_tensor, load_image

    img = load_image(image, channels=model.channels)
    if model.channels == 1 and ImageStat.Stat(img).mean[0] > 127:
        img = ImageOps.invert(img)
    img = img.resize((model.image_size, model.image_size))
    return image_to_tensor(img).float().div(255).unsqueeze(0)


@torch.no_grad()
def reconstruct(model: VAE, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(reconstructions from the posterior means, the means): the deterministic encode-decode."""
    mu, _ = model.encode(images)
    return model.decode(mu), mu


# ------------------------------------------------------------------- pictures
def to_pictures(x: torch.Tensor, side: int = 0) -> list:
    """(B, C, S, S) in [0, 1] -> PIL images, enlarged to ``side`` with nearest neighbours (pixels stay sharp)."""
    from PIL import Image

    a = (x.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    out = [Image.fromarray(im[..., 0] if im.shape[-1] == 1 else im, "L" if im.shape[-1] == 1 else "RGB").convert("RGB")
           for im in a]
    return [im.resize((side, side), Image.NEAREST) for im in out] if side else out


def picture_grid(x: torch.Tensor, columns: int = 0, cell: int = 0):
    """A grid picture of image tensors (columns: about square by default; cells enlarged to ``cell``)."""
    from .visual import grid

    n = len(x)
    columns = columns or max(1, math.ceil(math.sqrt(n)))
    cell = cell or max(x.shape[-1], min(96, 640 // columns))
    return grid(to_pictures(x, cell), columns, pad=2)


def samples(m: nn.Module, n: int, seed: int = 0, class_name: str = ALL_CLASSES, sampler: str = "DDIM",
            steps: int = 50) -> Iterator[tuple]:
    """(grid, clean grid or None, status) as ``m`` samples: a DDPM's x_t and predicted x_0 as it denoises, a
    PixelCNN's rows as it draws them, the grid at once for the others (a conditional GAN: one row per class)."""
    import time

    t0 = time.perf_counter()
    if isinstance(m, DDPM):
        for i, x, x0 in diffusion_steps(m, n, seed, steps, sampler.lower(), max(1, steps // 20)):
            yield picture_grid(x), picture_grid(x0), t("generative.diffusion_status", sampler=sampler, step=i,
                                                       steps=steps, seconds=time.perf_counter() - t0)
        return
    if isinstance(m, PixelCNN):
        side = m.image_size
        if n * side * side > MAX_SAMPLES * 256:
            raise InputError(t("generative.pixelcnn_limit", side=side, most=MAX_SAMPLES * 256 // (side * side)))
        for rows, x in pixel_steps(m, n, seed, every=max(1, side // 16)):
            yield picture_grid(x), None, t("generative.pixelcnn_status", row=rows, rows=side,
                                              seconds=time.perf_counter() - t0)
        return
    if isinstance(m, DCGAN) and m.conditional:
        if class_name == ALL_CLASSES or not class_name:
            per = max(1, n // m.num_classes)
            x = class_rows(m, per, seed)
            yield picture_grid(x, columns=per), None, t("generative.class_rows_status", classes=m.num_classes,
                                                        per=per, labels=", ".join(m.labels),
                                                        seconds=time.perf_counter() - t0)
            return
        x = sample(m, n, seed, labels=torch.full((n,), class_index(m, class_name)))
    else:
        x = sample(m, n, seed)
    yield picture_grid(x), None, t("generative.samples_status", count=n, seconds=time.perf_counter() - t0)

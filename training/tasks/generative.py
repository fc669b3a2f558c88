"""Generative models: the config and the declaration (torch-free)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from common.errors import ConfigError
from common.i18n import t
from hub_models.gen_catalog import GAN_LOSSES, PIXELCNN_MAX_SIZE, SIZES

from hub_models.catalog import GENERATIVE_MODELS, fine_tune_bases

from ..config import OPTIMIZERS, SCHEDULES, TrainConfig, field_label, opt
from . import Task


BUILTIN = "digits"
# What a field left at 0 becomes in a family's run: GANs want Adam's beta1 at 0.5 (Radford et al.).
FAMILY_DEFAULTS = {"gan": {"lr": 2e-4, "adam_beta1": 0.5, "latent_dim": 64},
                   "vae": {"lr": 1e-3, "adam_beta1": 0.9, "latent_dim": 2},
                   "autoregressive": {"lr": 1e-3, "adam_beta1": 0.9},
                   "diffusion": {"lr": 1e-3, "adam_beta1": 0.9}}


@dataclass
class GenerativeConfig(TrainConfig):
    epochs: int = opt(20, "passes over the training split", min=1, max=1000)
    batch_size: int = opt(64, "images per step", min=1, max=4096)
    optimizer: str = opt("adam", "optimizer", OPTIMIZERS)
    lr: float = opt(0.0, "peak learning rate (0: the family's default: GAN 2e-4, the others 1e-3)",
                    label="Learning rate", min=0, max=1)
    adam_beta1: float = opt(0.0, "Adam's beta1 (0: the family's default: GAN 0.5, the others 0.9)", min=0, max=0.999)
    schedule: str = opt("constant", "learning-rate schedule over the run", SCHEDULES)
    model: str = opt("dcgan", "dcgan, cgan (one row per class), vae-mlp, vae-conv, pixelcnn or ddpm (diffusers)",
                     tuple(GENERATIVE_MODELS))
    dataset: str = opt(BUILTIN, "'digits' (built in: scikit-learn's 8x8 digits, 1797 images, 10 classes), or a "
                                "folder, .zip or dataset repo of images (one folder per class for cgan)")
    image_size: int = opt(16, f"side of the images it learns and makes: one of {', '.join(map(str, SIZES))}",
                          min=min(SIZES), max=max(SIZES))
    latent_dim: int = opt(0, "size of z (0: GAN 64, VAE 2, which gives the VAE a 2-D latent map)",
                          label="Latent size", min=0, max=512)
    width: int = opt(32, "channels of the first conv layer (MLP VAE: hidden units / 8)", label="Width (channels)",
                     min=8, max=256)
    beta: float = opt(1.0, "VAE: weight of the KL term (1: the plain VAE; more: a smoother latent space)",
                      label="VAE: beta (KL weight)", min=0.01, max=100)
    recon: str = opt("bce", "VAE: reconstruction loss, Bernoulli (bce) or Gaussian (mse) pixels", ("bce", "mse"),
                     label="VAE: reconstruction loss")
    label_smoothing: float = opt(0.9, "GAN: the discriminator's target for real images (1: none; 0.9: one-sided)",
                                 label="GAN: target for real images", min=0.5, max=1)
    gan_loss: str = opt(GAN_LOSSES[0], "GAN: the generator's loss, -log D(G(z)) or the minimax log(1 - D(G(z)))",
                        GAN_LOSSES, label="GAN: generator loss")
    levels: int = opt(8, "PixelCNN: intensity levels of a pixel (the softmax's classes)",
                      label="PixelCNN: intensity levels", min=2, max=256)
    layers: int = opt(5, "PixelCNN: masked 3x3 layers after the first 7x7 one (a pixel sees 3 + layers rows up)",
                      label="PixelCNN: masked layers", min=1, max=30)
    timesteps: int = opt(1000, "DDPM: steps of the noise schedule", label="DDPM: noise steps", min=10, max=4000)
    sample_steps: int = opt(25, "DDPM: DDIM steps for the samples and FID after each epoch (at most --timesteps)",
                            label="DDPM: sample steps", min=1, max=4000)
    fid_samples: int = opt(300, "samples the FID compares with the validation split (at most its size; "
                                "PixelCNN: once, after the last epoch)", label="FID samples", min=2)
    val_split: float = opt(0.2, "fraction of the images held out for validation (the FID's real images)",
                           min=0.01, max=0.99)
    flip: bool = opt(False, "mirror training images at random (not for digits)")
    init_from: str = opt("", "fine-tune: start from a model of the same kind saved here or on --hub; a ddpm from "
                             "any DDPM pipeline (google/ddpm-cifar10-32), whose size and channels the images then "
                             "take", suggest=fine_tune_bases("generative"))

    @property
    def family(self) -> str:
        """gan, vae, autoregressive or diffusion: what trains the model and how."""
        return GENERATIVE_MODELS[self.model].family

    def check(self) -> None:
        if self.image_size not in SIZES:
            raise ConfigError("image_size", t("trainer.task_gen_size", label=field_label(type(self), "image_size"),
                                              choices=", ".join(map(str, SIZES)), size=self.image_size))
        if self.family == "autoregressive" and self.image_size > PIXELCNN_MAX_SIZE:
            raise ConfigError("image_size", t("trainer.task_pixelcnn_size", label=field_label(type(self), "image_size"),
                                              most=PIXELCNN_MAX_SIZE))
        if self.sample_steps > self.timesteps:
            raise ConfigError("sample_steps", t("trainer.task_sample_steps", label=field_label(type(self), "sample_steps"),
                                                timesteps=self.timesteps, steps=self.sample_steps))

    def resolved(self) -> GenerativeConfig:
        """The config a run uses: the fields left at 0 set to the family's defaults (a new object)."""
        defaults = FAMILY_DEFAULTS[self.family]
        return dataclasses.replace(self, **{k: v for k, v in defaults.items() if not getattr(self, k)})


TASK = Task(name="generative", title="Generative models", config=GenerativeConfig, trainer="training.generative",
            metric="fid", lower_is_better=True, dry_run={"batch_size": 4, "fid_samples": 8, "sample_steps": 2},
            tab="webui.generative", space="generative", pipelines=("unconditional-image-generation",))

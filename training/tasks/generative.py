"""Generative models: the config and the declaration (torch-free)."""
from __future__ import annotations

from dataclasses import dataclass

from hub_models.gen_catalog import SIZES

from ..config import TrainConfig, opt, registry_names
from . import Task

GENERATIVE_MODELS = registry_names("hub_models.generative", "GENERATIVE_MODELS")

BUILTIN = "digits"


@dataclass
class GenerativeConfig(TrainConfig):
    epochs: int = opt(20, "passes over the training split")
    batch_size: int = opt(64, "images per step")
    optimizer: str = opt("adam", "optimizer", ("sgd", "momentum", "rmsprop", "adam", "adamw"))
    lr: float = opt(0.0, "peak learning rate (0: the family's default: GAN 2e-4, the others 1e-3)")
    adam_beta1: float = opt(0.0, "Adam's beta1 (0: the family's default: GAN 0.5, the others 0.9)")
    schedule: str = opt("constant", "learning-rate schedule over the run", ("constant", "cosine", "step", "onecycle"))
    model: str = opt("dcgan", "dcgan, cgan (one row per class), vae-mlp, vae-conv, pixelcnn or ddpm (diffusers)",
                     GENERATIVE_MODELS)
    dataset: str = opt(BUILTIN, "'digits' (built in: scikit-learn's 8x8 digits, 1797 images, 10 classes), or a "
                                "folder, .zip or dataset repo of images (one folder per class for cgan)")
    image_size: int = opt(16, f"side of the images it learns and makes: one of {', '.join(map(str, SIZES))}")
    latent_dim: int = opt(0, "size of z (0: GAN 64, VAE 2, which gives the VAE a 2-D latent map)")
    width: int = opt(32, "channels of the first conv layer (MLP VAE: hidden units / 8)")
    beta: float = opt(1.0, "VAE: weight of the KL term (1: the plain VAE; more: a smoother latent space)")
    recon: str = opt("bce", "VAE: reconstruction loss, Bernoulli (bce) or Gaussian (mse) pixels", ("bce", "mse"))
    label_smoothing: float = opt(0.9, "GAN: the discriminator's target for real images (1: none; 0.9: one-sided)")
    gan_loss: str = opt("non-saturating", "GAN: the generator's loss, -log D(G(z)) or the minimax log(1 - D(G(z)))",
                        ("non-saturating", "minimax"))
    levels: int = opt(8, "PixelCNN: intensity levels of a pixel (the softmax's classes), 2 to 256")
    layers: int = opt(5, "PixelCNN: masked 3x3 layers after the first 7x7 one (a pixel sees 3 + layers rows up)")
    timesteps: int = opt(1000, "DDPM: steps of the noise schedule")
    sample_steps: int = opt(25, "DDPM: DDIM steps for the samples and FID after each epoch")
    fid_samples: int = opt(300, "samples the FID compares with the validation split (at most its size; "
                                "PixelCNN: once, after the last epoch)")
    val_split: float = opt(0.2, "fraction of the images held out for validation (the FID's real images)")
    flip: bool = opt(False, "mirror training images at random (not for digits)")
    init_from: str = opt("", "fine-tune: start from a model of the same kind saved here or on --hub")

TASK = Task(name="generative", title="Generative models", config=GenerativeConfig, trainer="training.generative", metric="fid",
            dry_run={"batch_size": 4, "fid_samples": 8, "sample_steps": 2}, tab="spaces.generative")

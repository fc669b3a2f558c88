"""Fast style transfer trainer: ``python -m training style --style hubble``.

Trains Johnson et al.'s image transformation network for one style: each batch of content crops goes
through the network, and the output is scored by a frozen VGG-19 with the losses of Gatys et al.
(content features of the input at relu2_2, Gram matrices of the style image at relu1_2, relu2_2 and
relu3_3, total variation). Once trained, one
forward pass stylises an image. Content photos: crops of photographs that ship with scikit-image and
scikit-learn (built in), or a folder / zip / dataset repo of any images. After each epoch the style and
content losses are measured on crops of a photo training never sees.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from torch.utils.data import Dataset

from common.i18n import t
from hub_models.catalog import STYLE_NETS
from hub_models.style_catalog import BUILTIN_IMAGES

from .config import TrainingError, to_dict
from .engine import TaskSpec, load_matching
from .tasks.style import BUILTIN, StyleConfig


def _open_style(spec: str):
    from hub_models.inference import InputError, load_image
    from hub_models.style import builtin_image, check_image

    try:
        img = builtin_image(spec) if spec in BUILTIN_IMAGES else load_image(spec, channels=3)
        return check_image(img, "style")
    except InputError as e:
        raise TrainingError(f"--style {spec}: {e}") from None


def load_photos(cfg: StyleConfig) -> tuple[list, list, str, list[str]]:
    """(training photos, validation photos, dataset name, notes)."""
    from hub_models.style import builtin_image
    from hub_models.style_catalog import CONTENT_PHOTOS, VAL_PHOTOS

    if cfg.dataset == BUILTIN:
        return [builtin_image(n) for n in CONTENT_PHOTOS], [builtin_image(n) for n in VAL_PHOTOS], BUILTIN, []
    from hub_models.inference import InputError, load_image

    from .data import IMAGE_EXTS, dataset_folder

    folder = dataset_folder(cfg.dataset, cfg.hub, BUILTIN)
    photos, skipped = [], []
    for f in sorted(folder.rglob("*")):
        if f.is_file() and f.suffix.lower() in IMAGE_EXTS:
            try:
                img = load_image(f, channels=3)
                if min(img.size) >= 32:
                    photos.append(img)
                    continue
                skipped.append(t("trainer.smaller_than", name=f.name))
            except InputError as e:
                skipped.append(f"{f.name} ({e})")
    if len(photos) < 2:
        raise TrainingError(t("trainer.too_few_photos_skipped", count=len(photos), spec=cfg.dataset, skipped=skipped[0])
                            if skipped else t("trainer.too_few_photos", count=len(photos), spec=cfg.dataset))
    notes = [f"skipped {len(skipped)} files: {', '.join(skipped[:3])}"] if skipped else []
    n_val = max(1, len(photos) // 10)
    name = Path(cfg.dataset).name if Path(cfg.dataset).exists() else cfg.dataset
    return photos[n_val:], photos[:n_val], name, notes


class Crops(Dataset):
    """Square crops (a random scale of the shorter side, random place, a mirror with ``flip``) resized to ``size``.
    With ``seed`` the crops are fixed (validation); without, they come from the torch RNG the engine seeds."""

    def __init__(self, photos: list, size: int, n: int, seed: int | None = None, flip: bool = True):
        self.photos, self.size, self.n, self.seed, self.flip = photos, size, n, seed, flip

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        from hub_models.inference import image_to_tensor

        g = torch.Generator().manual_seed(self.seed * 100003 + i) if self.seed is not None else None
        r = torch.rand(4, generator=g).tolist()
        img = self.photos[i % len(self.photos)]
        side = int(min(img.size) * (0.35 + 0.65 * r[0]))
        x, y = int((img.width - side) * r[1]), int((img.height - side) * r[2])
        crop = img.crop((x, y, x + side, y + side)).resize((self.size, self.size))
        t = image_to_tensor(crop).float().div(255)
        return (t.flip(-1) if self.flip and r[3] < 0.5 else t), 0


def build_task(cfg: StyleConfig) -> TaskSpec:
    from hub_models.inference import InputError
    from hub_models.style import StyleNet, content_loss, gram, load_extractor, style_loss, to_tensor, tv_loss

    style_spec = cfg.style_file or cfg.style
    style_img = _open_style(style_spec)
    train_photos, val_photos, data_name, notes = load_photos(cfg)
    hub = None
    if cfg.extractor == "vgg19-hub":
        from hub.client import resolve_hub

        hub = resolve_hub(cfg.hub)
    try:
        extractor = load_extractor(cfg.extractor, hub)
    except InputError as e:
        raise TrainingError(str(e)) from None
    from hub_models.style_catalog import FAST_CONTENT_LAYERS as CONTENT_LAYERS, FAST_STYLE_LAYERS as STYLE_LAYERS

    with torch.no_grad():
        style_grams = {k: gram(v) for k, v in extractor(to_tensor(style_img, cfg.image_size * 2),
                                                        list(STYLE_LAYERS)).items()}
    torch.manual_seed(cfg.seed)
    style_name = style_spec if style_spec in BUILTIN_IMAGES else Path(style_spec).stem
    model = StyleNet(**STYLE_NETS[cfg.model].defaults, style_name=style_name,
                     content_weight=cfg.content_weight, style_weight=cfg.style_weight, extractor=cfg.extractor)
    tuned = load_matching(model, cfg.init_from, cfg.hub) if cfg.init_from else None
    n = 8 if cfg.dry_run else cfg.crops_per_epoch
    train_data = Crops(train_photos, cfg.image_size, n, flip=cfg.flip)
    val_data = Crops(val_photos, cfg.image_size, 8, seed=1)
    notes = notes + ([tuned] if tuned else []) + [
        # i18n: not shown (a log line)
        f"content: {len(train_photos)} training photos ({n} crops an epoch), {len(val_photos)} validation photo(s); "
        f"style: {style_name}; scored by {extractor.source}"]
    layers = list(dict.fromkeys([*CONTENT_LAYERS, *STYLE_LAYERS]))

    def losses(m, x) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        y = m(x)
        with torch.no_grad():
            target = extractor(x, list(CONTENT_LAYERS))
        f = extractor(y, layers)
        return content_loss(f, target), style_loss(f, style_grams), tv_loss(y)

    def loss(m, batch) -> torch.Tensor:
        lc, ls, lt = losses(m, batch[0])
        return cfg.content_weight * lc + cfg.style_weight * ls + cfg.tv_weight * lt

    def evaluate(m, loader, accelerator) -> dict[str, float]:
        m.eval()
        sums, count = torch.zeros(3), 0
        with torch.no_grad():
            for x, _ in loader:
                sums += torch.tensor([v.item() for v in losses(m, x)]) * len(x)
                count += len(x)
        m.train()
        lc, ls, lt = (sums / max(1, count)).tolist()
        return {"style_loss": ls, "content_loss": lc, "tv_loss": lt,
                "loss": cfg.content_weight * lc + cfg.style_weight * ls + cfg.tv_weight * lt}

    def save(m, folder: Path, metrics: dict[str, float]) -> None:
        from hub.card import CardInfo, write_card
        from hub_models.style import stylize
        from hub_models.visual import captioned, row

        m.eval()
        m.save_pretrained(folder)
        style_img.copy().resize((256, round(256 * style_img.height / style_img.width))).save(folder / "style.png")
        shown = [val_photos[0], *train_photos[:2]]
        picture = row([captioned(style_img.resize((200, round(200 * style_img.height / style_img.width))),
                                 t("card.style_caption_style", style=style_name))]
                      + [captioned(stylize(m, p, 256), t("card.style_caption_unseen") if i == 0
                                   else t("card.style_caption_training"))
                         for i, p in enumerate(shown)], pad=8)
        picture.save(folder / "val_stylized.png")
        (folder / "evaluation.json").write_text(json.dumps({"metrics": metrics}))
        repo = cfg.push_to_hub or f"local/style-{style_name}"
        write_card(folder, CardInfo(
            repo_id=repo, title=t("card.style_title", style=style_name),
            summary=(t("card.style_summary", params=sum(p.numel() for p in m.parameters()), style=style_name,
                       data=data_name, size=cfg.image_size, extractor=extractor.describe(),
                       style_loss=metrics.get("style_loss", 0), content_loss=metrics.get("content_loss", 0))
                     + f"\n\n![{t('card.style_picture')}](val_stylized.png)"),
            base_model=cfg.init_from if cfg.init_from and not Path(cfg.init_from).exists() else None,
            pipeline_tag="image-to-image", task_name="Style transfer",
            tags=["style-transfer", "fast-neural-style", style_name],
            datasets=[] if Path(cfg.dataset).exists() or cfg.dataset == BUILTIN else [cfg.dataset],
            dataset_name=data_name, metrics={k: v for k, v in metrics.items() if k != "loss"},
            training=to_dict(cfg),
            usage=(f"from hub_models.style import StyleNet, stylize\n"  # i18n: kept (code)
                   f"model = StyleNet.from_pretrained(\"{repo}\").eval()  # or a local folder\n"
                   f"out = model(images)  # (B, 3, H, W) in [0, 1] -> the same size, stylised\n"
                   f"picture = stylize(model, \"photo.jpg\")  # a PIL image")))

    return TaskSpec(model=model, train_data=train_data, val_data=val_data, loss=loss, evaluate=evaluate, save=save,
                    notes=notes)

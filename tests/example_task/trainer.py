"""Line fitting: data, model, loss, metric, the saved folder."""
from __future__ import annotations

import json
from pathlib import Path

import torch
from torch.utils.data import TensorDataset

from training.engine import TaskSpec

from .declaration import LineConfig


def build_task(cfg: LineConfig) -> TaskSpec:
    g = torch.Generator().manual_seed(cfg.seed)
    x = torch.rand(cfg.points, 1, generator=g) * 2 - 1
    y = cfg.slope * x + 0.5 + cfg.noise * torch.randn(cfg.points, 1, generator=g)
    n_val = max(1, cfg.points // 5)
    torch.manual_seed(cfg.seed)
    model = torch.nn.Linear(1, 1)

    def loss(m, batch):
        xb, yb = batch
        return torch.nn.functional.mse_loss(m(xb), yb)

    def evaluate(m, loader, accelerator):
        with torch.no_grad():
            errors = [torch.nn.functional.mse_loss(m(xb), yb, reduction="sum").item() for xb, yb in loader]
        return {"mse": sum(errors) / n_val}

    def save(m, folder: Path, metrics):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.json").write_text(json.dumps({"slope": m.weight.item(), "bias": m.bias.item()}))

    return TaskSpec(model=model, train_data=TensorDataset(x[n_val:], y[n_val:]),
                    val_data=TensorDataset(x[:n_val], y[:n_val]), loss=loss, evaluate=evaluate, save=save)

"""Inside a CNN (hub_models.inside): each view against what it must be on a model whose answer is known."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn


class Probe(nn.Module):
    """A classifier with the attributes the app's classifiers have: a conv, then a linear layer on a mean."""

    def __init__(self, size: int = 12, classes: int = 3):
        super().__init__()
        self.in_channels, self.image_size = 1, size
        self.labels = [f"c{i}" for i in range(classes)]
        self.mean, self.std = [0.0], [1.0]
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.fc = nn.Linear(4, classes)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).mean(dim=(2, 3)))


class Corner(nn.Module):
    """Class 0's score is the sum of the top-left quarter: nothing else matters."""
    in_channels, image_size, labels, mean, std = 1, 8, ["corner", "rest"], [0.0], [1.0]

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(64, 2, bias=False)
        w = torch.zeros(2, 8, 8)
        w[0, :4, :4] = 1.0
        self.fc.weight.data = w.reshape(2, 64)

    def forward(self, x):
        return self.fc(x.flatten(1))


def test_saliency_and_occlusion_find_the_only_region_that_counts():
    from hub_models.inside import occlusion, saliency

    model = Corner()
    x = torch.ones(1, 1, 8, 8)
    s = saliency(model, x, 0)
    assert s[:4, :4].min() == 1 and s[4:, :].max() == 0 and s[:, 4:].max() == 0  # |d score/d x| = |w|
    occ, lowest = occlusion(model, x, 0, patch=2, stride=2)
    assert occ[:4, :4].min() > 0 and occ[4:, 4:].max() == 0  # hiding the far corner changes nothing
    # with the whole corner summing to 16 against 0, p(corner) is ~1; hiding 4 of its 16 pixels leaves sigmoid(12)
    assert lowest == pytest.approx(1 / (1 + np.exp(-12)), rel=1e-5)


def test_penultimate_features_are_what_the_last_layer_reads():
    from hub_models.inside import feature_maps, first_filters, penultimate

    torch.manual_seed(0)
    model = Probe().eval()
    x = torch.randn(5, 1, 12, 12)
    feats, probs = penultimate(model, x, batch=2)
    want = torch.relu(model.conv(x)).mean(dim=(2, 3))
    assert np.allclose(feats, want.detach().numpy(), atol=1e-6)
    assert np.allclose(probs, torch.softmax(model(x), 1).detach().numpy(), atol=1e-6)
    maps = feature_maps(model, x[:1])
    assert [(n, tuple(t.shape)) for n, t in maps] == [("conv", (4, 12, 12))]
    assert torch.allclose(maps[0][1], model.conv(x[:1])[0])
    assert first_filters(model).size[0] >= 4 * 56
    assert first_filters(Corner()) is None  # no convolution: nothing to draw


def test_projection_separates_what_a_trained_net_separates():
    """The quality check: t-SNE of a trained LeNet's features keeps the digits apart (1-NN in 2-D)."""
    from hub_models.classification import create_model
    from hub_models.inside import project, set_views
    from training.classification import load_digits_tensors

    x, y, names = load_digits_tensors(28)
    torch.manual_seed(0)
    model = create_model("lenet", num_classes=10, in_channels=1, image_size=28, labels=names,
                         mean=[0.0], std=[1.0])
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    for _ in range(3):
        for i in range(0, 1400, 64):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x[i:i + 64]), y[i:i + 64]).backward()
            opt.step()
    model.eval()
    held_x, held_y = x[1400:], y[1400:]
    views = set_views(model, held_x, held_y, names, "t-SNE")
    assert views.accuracy > 0.75 and views.count == len(held_y)
    assert sum(n for _, n, _ in views.per_class) == len(held_y)
    assert len(views.mistakes) == min(40, round((1 - views.accuracy) * len(held_y)))
    from hub_models.inside import penultimate

    feats, _ = penultimate(model, held_x)
    pts = project(feats, "t-SNE")
    d = ((pts[:, None] - pts[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    assert (held_y.numpy()[d.argmin(1)] == held_y.numpy()).mean() > 0.75
    assert project(feats, "PCA").shape == (len(held_y), 2)


def test_a_set_of_other_classes_is_refused():
    from common.errors import UserError
    from hub_models.inside import set_views

    with pytest.raises(UserError, match="not the model's: cat"):
        set_views(Probe(), torch.rand(4, 1, 12, 12), torch.tensor([0, 1, 0, 1]), ["c0", "cat"], "PCA")
    views = set_views(Probe(), torch.rand(6, 3, 20, 20), torch.tensor([0, 1, 0, 1, 0, 1]), ["c2", "c0"], "PCA")
    assert views.count == 6 and {c for c, _, _ in views.per_class} == {"c0", "c2"}  # RGB at 20 px fitted

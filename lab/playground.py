"""The 2-D playground: classifiers on points in the plane, trained as you watch (TensorFlow Playground's idea, with
the course's knobs: initialisation, L1/L2, dropout, batch norm, early stopping).

Models: softmax (logistic, for two classes) regression, a linear SVM (the multiclass hinge loss of CS231n:
Σ_{j≠y} max(0, s_j − s_y + 1)), k nearest neighbours (no training: the vote of the k closest training points), and
an MLP. Initialisations: zeros (every hidden unit stays the same: symmetry is never broken), small and large
normal, Xavier (Glorot & Bengio, 2010: variance 2 / (fan_in + fan_out)) and He (He et al., 2015: 2 / fan_in).
Each frame reports the decision regions, train and validation loss, each layer's gradient norm (vanishing with
sigmoid, depth and a small init; exploding with a large one) and its weights' histogram.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from common.errors import UserError
from common.i18n import t

if TYPE_CHECKING:  # torch is imported where it runs: building the tab must not load it
    import torch
    from torch import nn

    from hub.card import CardInfo

# The values the tab's choices stand for (their shown text is in common/locales).
DATASETS = ("blobs", "moons", "circles", "spirals", "XOR", "linear with outliers", "your CSV")  # i18n: not shown
MAX_CLASSES = 10
MODELS = ("softmax regression", "linear SVM", "kNN", "MLP")
ACTIVATIONS = {"sigmoid": "Sigmoid", "tanh": "Tanh", "ReLU": "ReLU", "leaky ReLU": "LeakyReLU", "GELU": "GELU"}
INITS = ("default", "zeros", "small normal (σ 0.01)", "large normal (σ 1)", "Xavier", "He")
MAX_POINTS, MAX_STEPS, MAX_LAYERS, MAX_WIDTH = 2000, 5000, 8, 64
GRID = 120  # the decision picture's resolution, cells per side
BOX = 3.0  # the plane shown: [-BOX, BOX]^2


def read_points(path: str) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """A user's CSV of x, y, label: the points moved and scaled into the plane shown (the same factor on both axes,
    so shapes keep), their classes, and the class names (sorted labels)."""
    import torch

    from . import read_csv_rows

    rows = read_csv_rows(path, ("x", "y", "label"), MAX_POINTS, 10)
    names = sorted({r[2] for r in rows})
    if not 2 <= len(names) <= MAX_CLASSES:
        raise UserError(t("lab.playground.csv_labels", labels=len(names), max=MAX_CLASSES))
    x = torch.tensor([[float(r[0]), float(r[1])] for r in rows])
    x = x - x.mean(0)
    x = x / x.abs().max().clamp(min=1e-12) * 2.5
    return x, torch.tensor([names.index(r[2]) for r in rows]), names


def make_data(name: str, n: int, noise: float, seed: int, csv: str = "") -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` points (n, 2) in about [-2.5, 2.5]^2 and their classes (or the points of the user's ``csv``)."""
    import torch

    if name not in DATASETS:
        raise UserError(t("lab.pick_dataset", datasets=", ".join(DATASETS)))
    if name == "your CSV":
        if not csv:
            raise UserError(t("lab.csv_missing", columns="x, y, label"))
        return read_points(csv)[:2]
    if not 10 <= n <= MAX_POINTS:
        raise UserError(t("lab.playground.points", max=MAX_POINTS))
    if not 0 <= noise <= 2:
        raise UserError(t("lab.playground.noise"))
    g = torch.Generator().manual_seed(seed)
    rand = lambda *shape: torch.rand(*shape, generator=g)  # noqa: E731
    randn = lambda *shape: torch.randn(*shape, generator=g)  # noqa: E731
    if name == "blobs":
        y = torch.randint(0, 3, (n,), generator=g)
        centres = torch.tensor([[-1.5, -1.0], [1.5, -1.0], [0.0, 1.6]])
        x = centres[y] + randn(n, 2) * (0.35 + 0.5 * noise)
    elif name == "moons":
        y = torch.randint(0, 2, (n,), generator=g)
        a = rand(n) * math.pi
        x = torch.stack([torch.where(y == 0, torch.cos(a), 1 - torch.cos(a)),
                         torch.where(y == 0, torch.sin(a), 0.5 - torch.sin(a))], 1)
        x = (x - torch.tensor([0.5, 0.25])) * 1.6 + randn(n, 2) * 0.15 * (1 + 2 * noise)
    elif name == "circles":
        y = torch.randint(0, 2, (n,), generator=g)
        a = rand(n) * 2 * math.pi
        r = torch.where(y == 0, 2.0, 0.9) + randn(n) * 0.15 * (1 + 2 * noise)
        x = torch.stack([r * torch.cos(a), r * torch.sin(a)], 1)
    elif name == "spirals":
        y = torch.randint(0, 2, (n,), generator=g)
        r = rand(n) * 2.4 + 0.1
        a = r * 2.2 + y * math.pi
        x = torch.stack([r * torch.cos(a), r * torch.sin(a)], 1) + randn(n, 2) * 0.08 * (1 + 2 * noise)
    elif name == "XOR":
        x = rand(n, 2) * 4.4 - 2.2
        x = x + x.sign() * 0.15  # a margin around the axes
        y = ((x[:, 0] > 0) ^ (x[:, 1] > 0)).long()
        x = x + randn(n, 2) * 0.2 * noise
    else:  # linear with outliers: separable by y = 0.5 x, then 5 % of the labels flipped far from the line
        x = rand(n, 2) * 4.4 - 2.2
        y = (x[:, 1] > 0.5 * x[:, 0]).long()
        x = x + randn(n, 2) * 0.2 * noise
        far = ((x[:, 1] - 0.5 * x[:, 0]).abs() > 1.0).nonzero().flatten()
        flip = far[torch.randperm(len(far), generator=g)[: max(1, n // 20)]]
        y[flip] = 1 - y[flip]
    return x.float(), y


@dataclass
class Knobs:
    """Everything the form sets (the model's contract with the tab)."""

    dataset: str = "moons"
    points: int = 400
    noise: float = 0.2
    val_fraction: float = 0.3
    model: str = "MLP"
    layers: int = 2
    width: int = 8
    activation: str = "tanh"
    init: str = "default"
    dropout: float = 0.0
    batch_norm: bool = False
    k: int = 5
    optimiser: str = "SGD"
    lr: float = 0.1
    batch_size: int = 32
    steps: int = 1000
    l1: float = 0.0
    l2: float = 0.0
    patience: int = 0  # early stopping: frames without a better validation loss; 0 = off
    seed: int = 0
    csv: str = ""  # the uploaded file when the dataset is "your CSV"

    def check(self) -> None:
        if self.model not in MODELS:
            raise UserError(t("lab.playground.pick_model", models=", ".join(MODELS)))
        if self.activation not in ACTIVATIONS:
            raise UserError(t("lab.pick_activation", activations=", ".join(ACTIVATIONS)))
        if self.init not in INITS:
            raise UserError(t("lab.playground.pick_init", inits=", ".join(INITS)))
        if not 1 <= self.layers <= MAX_LAYERS or not 1 <= self.width <= MAX_WIDTH:
            raise UserError(t("lab.playground.layers_width", layers=MAX_LAYERS, width=MAX_WIDTH))
        if not 0 <= self.dropout < 1 or not 0.05 <= self.val_fraction <= 0.9:
            raise UserError(t("lab.playground.dropout_share"))
        if not 0 < self.lr <= 10 or not 1 <= self.batch_size <= MAX_POINTS or not 1 <= self.steps <= MAX_STEPS:
            raise UserError(t("lab.playground.lr_batch_steps", batch=MAX_POINTS, steps=MAX_STEPS))
        if self.l1 < 0 or self.l2 < 0 or self.patience < 0 or not 1 <= self.k <= 50:
            raise UserError(t("lab.playground.penalties_k"))


def build_model(knobs: Knobs, classes: int) -> nn.Sequential:
    """The network of ``knobs`` (softmax regression and the SVM: one linear layer) with its initialisation."""
    import torch
    from torch import nn

    torch.manual_seed(knobs.seed)
    if knobs.model != "MLP":
        return nn.Sequential(nn.Linear(2, classes))
    layers: list[nn.Module] = []
    width_in = 2
    for _ in range(knobs.layers):
        layers.append(nn.Linear(width_in, knobs.width))
        if knobs.batch_norm:
            layers.append(nn.BatchNorm1d(knobs.width))
        layers.append(getattr(nn, ACTIVATIONS[knobs.activation])())
        if knobs.dropout:
            layers.append(nn.Dropout(knobs.dropout))
        width_in = knobs.width
    layers.append(nn.Linear(width_in, classes))
    net = nn.Sequential(*layers)
    for m in net:
        if isinstance(m, nn.Linear):
            _init(m, knobs.init)
    return net


def _init(m: nn.Linear, how: str) -> None:
    import torch
    from torch import nn

    with torch.no_grad():
        if how == "default":
            return  # PyTorch's own: uniform, ±1/√fan_in (He's uniform with a = √5)
        m.bias.zero_()
        if how == "zeros":
            m.weight.zero_()
        elif how.startswith("small"):
            m.weight.normal_(0, 0.01)
        elif how.startswith("large"):
            m.weight.normal_(0, 1.0)
        elif how == "Xavier":
            nn.init.xavier_normal_(m.weight)
        else:
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")


def hinge_loss(scores: torch.Tensor, y: torch.Tensor, margin: float = 1.0) -> torch.Tensor:
    """Multiclass SVM loss (CS231n): mean over examples of Σ_{j≠y} max(0, s_j − s_y + margin)."""
    correct = scores.gather(1, y[:, None])
    m = (scores - correct + margin).clamp(min=0)
    return (m.sum(1) - margin).mean()  # (the j = y term is exactly the margin)


def knn_predict(train_x: torch.Tensor, train_y: torch.Tensor, x: torch.Tensor, k: int, classes: int) -> torch.Tensor:
    """Class shares among the k nearest training points (Euclidean), (n, classes)."""
    import torch

    d = torch.cdist(x, train_x)
    idx = d.topk(min(k, len(train_x)), largest=False).indices
    votes = torch.nn.functional.one_hot(train_y[idx], classes).float()
    return votes.mean(1)


@dataclass
class Frame:
    """What one update of the page shows."""

    step: int
    train_loss: list[tuple[int, float]]
    val_loss: list[tuple[int, float]]
    train_acc: float
    val_acc: float
    grad_norms: dict[str, list[tuple[int, float]]]
    weights: dict[str, list[float]]
    probs: torch.Tensor  # (GRID, GRID, classes) over the plane
    data: tuple[torch.Tensor, ...]  # split_data's (train x, train y, validation x, validation y): the points drawn
    stopped: str = ""


def split_data(knobs: Knobs) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(train x, train y, validation x, validation y) of the knobs' data, split at random by the seed."""
    import torch

    x, y = make_data(knobs.dataset, knobs.points, knobs.noise, knobs.seed, knobs.csv)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(knobs.seed + 1))
    n_val = max(1, int(len(x) * knobs.val_fraction))
    return x[perm[n_val:]], y[perm[n_val:]], x[perm[:n_val]], y[perm[:n_val]]


def train(knobs: Knobs, every: int = 10) -> Iterator[Frame]:
    """Train (or, for kNN, fit) the model on the knobs' data; a frame every ``every`` steps and at the end."""
    from . import one_thread

    knobs.check()
    return one_thread(Session(knobs).run(every))


class Session:
    """One model training on one dataset, resumable: the tab keeps it between requests, so Pause, Step and a
    changed learning rate continue where it stood (TensorFlow Playground's controls), and it can be pushed."""

    def __init__(self, knobs: Knobs, data: tuple[torch.Tensor, ...] | None = None):
        import torch
        from torch import nn

        knobs.check()
        self.knobs = knobs
        self.data = tx, ty, vx, vy = data if data is not None else split_data(knobs)
        self.classes = int(max(ty.max(), vy.max())) + 1
        self.step, self.stopped = 0, ""
        self.hist: dict[str, list] = {"train": [], "val": []}
        if knobs.model == "kNN":
            self.net = None
            return
        self.net = build_model(knobs, self.classes)
        self.loss_fn = hinge_loss if knobs.model == "linear SVM" else nn.functional.cross_entropy
        self.opt = (torch.optim.Adam if knobs.optimiser == "Adam" else torch.optim.SGD)(self.net.parameters(),
                                                                                       lr=knobs.lr)
        self.linears = [(f"layer {i + 1}", m) for i, m in enumerate(m for m in self.net if isinstance(m, nn.Linear))]
        self.hist.update({name: [] for name, _ in self.linears})
        self.g = torch.Generator().manual_seed(knobs.seed + 2)
        self.best, self.since_best = math.inf, 0

    @property
    def done(self) -> bool:
        return self.net is None and self.step > 0 or self.step >= self.knobs.steps or bool(self.stopped)

    def continues(self, knobs: Knobs) -> bool:
        """Whether ``knobs`` are this session's but for the steps and the learning rate (which change on the fly)."""
        # (a pulled session knows its CSV by name only)
        same = lambda k: {**vars(k), "steps": 0, "lr": 0, "csv": Path(k.csv).name}  # noqa: E731
        return same(knobs) == same(self.knobs)

    def retune(self, knobs: Knobs) -> None:
        """Take the new step count and learning rate (the optimiser keeps its state)."""
        self.knobs = knobs
        for group in getattr(self, "opt", None).param_groups if self.net is not None else []:
            group["lr"] = knobs.lr

    def run(self, every: int) -> Iterator[Frame]:
        while not self.done:
            yield self.advance(every)

    def advance(self, n: int) -> Frame:
        """Up to ``n`` more steps (not past the knobs' steps), then the frame."""
        import torch

        if self.net is None:
            self.step = 1
            return self.frame()
        tx, ty = self.data[0], self.data[1]
        knobs = self.knobs
        end = min(knobs.steps, self.step + n)
        while self.step < end and not self.stopped:
            self.step += 1
            self.net.train()
            idx = torch.randint(len(tx), (min(knobs.batch_size, len(tx)),), generator=self.g)
            loss = self.loss_fn(self.net(tx[idx]), ty[idx])
            penalty = sum(knobs.l1 * m.weight.abs().sum() + knobs.l2 * m.weight.pow(2).sum() for _, m in self.linears)
            self.opt.zero_grad()
            (loss + penalty).backward()
            if not torch.isfinite(loss):
                self.stopped = t("lab.playground.loss_not_finite", loss=float(loss), step=self.step)
            self.opt.step()
        for name, m in self.linears:
            if m.weight.grad is not None:
                self.hist[name].append((self.step, float(m.weight.grad.norm())))
        return self.frame(check=True)

    def frame(self, check: bool = False) -> Frame:
        import torch

        tx, ty, vx, vy = self.data
        plane = _plane()
        if self.net is None:
            probs = knn_predict(tx, ty, plane, self.knobs.k, self.classes).view(GRID, GRID, self.classes)
            acc = lambda px, py: float((knn_predict(tx, ty, px, self.knobs.k, self.classes).argmax(1) == py)  # noqa
                                       .float().mean())
            return Frame(self.step, [], [], acc(tx, ty), acc(vx, vy), {}, {}, probs, self.data)
        self.net.eval()
        with torch.no_grad():
            if check:
                tl, vl = float(self.loss_fn(self.net(tx), ty)), float(self.loss_fn(self.net(vx), vy))
                self.hist["train"].append((self.step, tl))
                self.hist["val"].append((self.step, vl))
                patience = self.knobs.patience
                if patience and not self.stopped:
                    self.best, self.since_best = (vl, 0) if vl < self.best - 1e-6 else (self.best, self.since_best + 1)
                    if self.since_best >= patience:
                        self.stopped = t("lab.playground.early_stopping", step=self.step, patience=patience)
            probs = self.net(plane).softmax(1).view(GRID, GRID, self.classes)
            acc = lambda px, py: float((self.net(px).argmax(1) == py).float().mean())  # noqa: E731
            return Frame(self.step, list(self.hist["train"]), list(self.hist["val"]), acc(tx, ty), acc(vx, vy),
                         {name: list(self.hist[name]) for name, _ in self.linears},
                         {name: m.weight.flatten().tolist() for name, m in self.linears}, probs, self.data,
                         self.stopped)

    # ------------------------------------------------------------------ push and pull (hub/ moves the folder)
    def save(self, folder: Path) -> None:
        """A model folder: config.json (the knobs, the step, the curves), model.safetensors (the weights, and the
        points it trained and validated on: for kNN they are the whole model)."""
        import json

        from safetensors.torch import save_file

        folder.mkdir(parents=True, exist_ok=True)
        tensors = dict(zip(("data.train_x", "data.train_y", "data.val_x", "data.val_y"), self.data))
        if self.net is not None:
            tensors.update({f"net.{k}": v for k, v in self.net.state_dict().items()})
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(folder / "model.safetensors"))
        (folder / "config.json").write_text(json.dumps({
            "_class_name": "PlaygroundSession", "knobs": {**vars(self.knobs), "csv": Path(self.knobs.csv).name},
            "classes": self.classes,
            "step": self.step, "history": {k: v for k, v in self.hist.items()}}, indent=1))

    @classmethod
    def load(cls, folder: Path) -> Session:
        """A session saved by ``save`` (a pulled repo), ready to show or to train on."""
        import json

        from safetensors.torch import load_file

        try:
            config = json.loads((folder / "config.json").read_text())
            if config.get("_class_name") != "PlaygroundSession":
                raise ValueError(t("lab.playground.not_playground"))
            knobs = Knobs(**config["knobs"])
            tensors = load_file(str(folder / "model.safetensors"))
            data = tuple(tensors[f"data.{k}"] for k in ("train_x", "train_y", "val_x", "val_y"))
            # A pulled repo is anyone's: its points and labels are held to what the playground itself makes.
            xs, ys = (data[0], data[2]), (data[1], data[3])
            if (any(x.dim() != 2 or x.shape[1] != 2 or not x.dtype.is_floating_point for x in xs)
                    or any(y.dim() != 1 or y.dtype.is_floating_point for y in ys)
                    or any(len(x) != len(y) or not len(x) for x, y in zip(xs, ys))
                    or len(xs[0]) + len(xs[1]) > MAX_POINTS
                    or any(int(y.min()) < 0 or int(y.max()) >= MAX_CLASSES for y in ys)):
                raise ValueError(t("lab.playground.bad_points"))
            data = (data[0].float(), data[1].long(), data[2].float(), data[3].long())
            if any(len(v) > 2 * MAX_STEPS for v in config["history"].values()):
                raise ValueError(t("lab.playground.long_history"))
            session = cls(knobs, data)
            if session.net is not None:
                session.net.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")})
            session.step = int(config["step"])
            session.hist = {k: [tuple(p) for p in v] for k, v in config["history"].items()}
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as e:
            raise UserError(t("lab.playground.not_a_model", why=str(e).splitlines()[0] if str(e) else repr(e)))
        return session

    def card(self, repo_id: str) -> CardInfo:
        """The pushed repo's model card: in English whoever pushes it (a hub's readers share one text, as the
        commit messages are)."""
        from hub.card import CardInfo

        k = self.knobs
        shape = (f"an MLP of {k.layers} x {k.width} {k.activation} units" if k.model == "MLP"  # i18n: not shown
                 else k.model)
        last = self.frame()
        return CardInfo(
            repo_id=repo_id, title=f"{k.model} on {k.dataset} (2-D playground)",  # i18n: not shown
            summary=(f"A toy classifier from DL Playground's 2-D playground: {shape} "  # i18n: not shown
                     f"trained {self.step} steps ({k.optimiser}, learning rate {k.lr:g}, batch {k.batch_size}) "
                     f"on {len(self.data[0])} points "
                     f"of the {k.dataset} data, validated on {len(self.data[2])}. The points are in the weights "
                     "file, so the repo shows its own decision regions when pulled."),
            pipeline_tag="tabular-classification", task_name="2-D classification", tags=["2d-playground", k.model],
            dataset_name=f"{k.dataset} (seed {k.seed})", metrics={"accuracy": last.val_acc},
            training={**vars(k), "csv": Path(k.csv).name},
            usage=("from lab.playground import Session\n"  # i18n: not shown (code)
                   "session = Session.load(folder)  # a pulled snapshot\n"
                   "frame = session.frame()  # decision regions, accuracy"))


def _plane() -> torch.Tensor:
    import torch

    axis = torch.linspace(-BOX, BOX, GRID)
    gy, gx = torch.meshgrid(axis.flip(0), axis, indexing="ij")  # the top row is the largest y
    return torch.stack([gx.flatten(), gy.flatten()], 1)


def frame_picture(frame: Frame, knobs: Knobs, side: int = 420):
    """The decision regions (the class colour, paler where the model is less sure) with the training points
    (filled) and validation points (white rim); beside it the losses, gradient norms and weight histograms."""
    import numpy as np
    import torch
    from PIL import Image, ImageDraw

    from hub_models.visual import chart, class_colour, font, row

    probs = frame.probs.numpy()
    colours = np.array([class_colour(c + 1) for c in range(probs.shape[-1])], dtype=float)
    conf = probs.max(-1, keepdims=True)
    base = colours[probs.argmax(-1)]
    rgb = 255 - (255 - base) * (0.15 + 0.55 * (conf - 1 / probs.shape[-1]) / (1 - 1 / probs.shape[-1]))
    img = Image.fromarray(rgb.clip(0, 255).astype("uint8")).resize((side, side), Image.NEAREST)
    d = ImageDraw.Draw(img)
    tx, ty, vx, vy = frame.data
    for points, classes, rim in ((tx, ty, "black"), (vx, vy, "white")):
        for (px, py), c in zip(points.tolist(), classes.tolist()):
            u, v = (px + BOX) / (2 * BOX) * side, (BOX - py) / (2 * BOX) * side
            d.ellipse([u - 3.5, v - 3.5, u + 3.5, v + 3.5], fill=class_colour(c + 1), outline=rim)
    d.rectangle([0, 0, side, 20], fill=(30, 30, 30))
    d.text((6, 3), t("lab.playground.caption", step=frame.step, train=frame.train_acc, val=frame.val_acc),
           fill="white", font=font(13))
    train, val, step = t("lab.train"), t("lab.validation"), t("lab.step")
    shown = {name: t("lab.playground.layer", n=name.split()[-1]) for name in frame.grad_norms}  # ("layer 1")
    parts = [img]
    if frame.train_loss:
        parts.append(chart(t("lab.playground.loss_title"), [(train, *zip(*frame.train_loss)),
                                                             (val, *zip(*frame.val_loss))], step, t("lab.loss"),
                           size=(300, side // 2 - 4)))
    if frame.grad_norms:
        norms = chart(t("lab.playground.norms_title"),
                      [(shown[name], [s for s, _ in pts], [math.log10(max(v, 1e-12)) for _, v in pts])
                       for name, pts in frame.grad_norms.items()], step, "log10", size=(300, side // 2 - 4))
        hists = []
        for name, w in frame.weights.items():
            values = torch.tensor(w)
            lo, hi = float(values.min()), float(values.max())
            hi = hi if hi > lo else lo + 1e-6
            counts = torch.histc(values, 15, lo, hi)
            centres = torch.linspace(lo, hi, 31)[1::2].tolist()
            hists.append((shown.get(name, name), centres, (counts / counts.sum()).tolist()))
        weights = chart(t("lab.playground.weights_title"), hists, t("lab.playground.weight"), t("lab.playground.share"),
                        size=(300, side // 2 - 4), bars=True)
        left = Image.new("RGB", (300, side), "white")
        left.paste(parts.pop(), (0, 0))
        left.paste(norms, (0, side // 2 + 4))
        parts += [left, weights]
    return row(parts)

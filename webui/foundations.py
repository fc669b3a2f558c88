"""Foundations tab: the first half of the course, computed in the request (lab/): the 2-D playground, linear
regression (closed form, gradient descent, bias and variance), backprop with a gradient check, the optimiser lab and
the convolution explorer."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import gradio as gr

from common.errors import UserError
from lab.optim import MAX_STEPS, OPTIMISERS, SURFACES
from training.config import SCHEDULES

from . import visitors
from .common import IN_REQUEST, AppContext, get_hub, hub_picker, throttled

TITLE = "Foundations"

OPTIM_INTRO = """
Every optimiser takes the gradient **g** of the loss at the current point and decides how far to move.
**SGD**: w ← w − η g. **Momentum**: a velocity v ← μ v + g accumulates past gradients (μ = 0.9), w ← w − η v, so
steps grow along a consistent direction and cancel across a ravine; **Nesterov** looks one step ahead
(w ← w − η (g + μ v)). **AdaGrad** divides by the root of the sum of all squared gradients so far: every
coordinate gets its own step size, which only shrinks. **RMSProp** uses a moving average of squared gradients
instead (ρ = 0.99), so steps do not vanish. **Adam** combines momentum and RMSProp, with bias correction
(m̂ = m / (1 − β₁ᵗ), v̂ = v / (1 − β₂ᵗ)); **AdamW** decays the weights apart from the adaptive scaling
(w ← w (1 − η λ)). Each line below is one optimiser from the same start; the star is the minimum. The learning
rate η follows the schedule (warm-up: linear from 0 over the first steps).
"""


def _lr_key(name: str) -> str:
    return f"lr_{name.lower()}"


def optimiser_race(surface: str, steps: int, schedule: str, warmup: int, seed: int, chosen: list[str],
                   **lrs: float) -> Iterator[tuple[Any, str, list[list[Any]]]]:
    """The race's picture, a status line and the final positions, streamed while the optimisers run."""
    from lab.optim import race, race_picture, summary

    if surface not in SURFACES:
        raise UserError(f"Pick a surface: {', '.join(SURFACES)}.")
    if not chosen:
        raise UserError("Pick at least one optimiser.")
    rates = {}
    for name in chosen:
        lr = lrs.get(_lr_key(name))
        if lr is None or not 0 < float(lr) <= 10:
            raise UserError(f"{name}'s learning rate must be above 0 and at most 10.")
        rates[name] = float(lr)
    steps, warmup = int(steps or 0), int(warmup or 0)
    if not 1 <= steps <= MAX_STEPS:
        raise UserError(f"Steps must be between 1 and {MAX_STEPS}.")
    if not 0 <= warmup < steps:
        raise UserError("Warm-up must be at least 0 and shorter than the run.")
    every = max(1, steps // 60)
    for state in throttled(race(surface, rates, steps, schedule, warmup, seed=int(seed or 0), every=every)):
        stopped = "; ".join(f"{n} {why}" for n, why in state.stopped.items())
        text = f"Step {state.step} / {steps} on *{surface}*: {SURFACES[surface].note}" + (
            f". **{stopped}**: lower its learning rate." if stopped else ".")
        yield race_picture(state), text, summary(state)


def optimiser_section() -> None:
    gr.Markdown(OPTIM_INTRO)
    first = next(iter(SURFACES))
    with gr.Row():
        surface = gr.Dropdown(list(SURFACES), value=first, label="Loss surface", scale=2)
        chosen = gr.CheckboxGroup(list(OPTIMISERS), value=["SGD", "Momentum", "RMSProp", "Adam"], label="Optimisers",
                                  scale=4)
    with gr.Row():
        steps = gr.Slider(10, MAX_STEPS, value=200, step=10, label="Steps")
        schedule = gr.Dropdown(list(SCHEDULES), value="constant", label="Learning-rate schedule")
        warmup = gr.Number(0, label="Warm-up steps", minimum=0, precision=0)
        seed = gr.Number(0, label="Seed (the noisy surface's noise)", precision=0)
    with gr.Accordion("Learning rates (the surface's defaults show each optimiser's character)", open=False):
        with gr.Row():
            lrs = {name: gr.Number(SURFACES[first].lrs[name], label=f"{name} η", minimum=0, maximum=10)
                   for name in OPTIMISERS}
    run = gr.Button("Run", variant="primary")
    status = gr.Markdown()
    picture = gr.Image(label="Trajectories and loss", type="pil", show_label=False, height=460)
    table = gr.Dataframe(headers=["optimiser", "x", "y", "f", "distance to the minimum", "status"],
                         label="Where each one ended", interactive=False)
    surface.change(lambda s: [SURFACES.get(s, SURFACES[first]).lrs[n] for n in OPTIMISERS], surface, list(lrs.values()),
                   api_visibility="private", queue=False)
    run.click(optimiser_race, None, [picture, status, table], api_name="foundations_optimisers", **IN_REQUEST,
              inputs_kwargs={"surface": surface, "steps": steps, "schedule": schedule, "warmup": warmup,
                             "seed": seed, "chosen": chosen, **{_lr_key(n): c for n, c in lrs.items()}})


CONV_INTRO = """
A convolutional layer computes a **cross-correlation**: the kernel slides over the input and each output is the
sum of the window times the kernel (and, with several input channels, the sum over the channels of each
channel's cross-correlation: a kernel has one slice per input channel). **Padding** p adds zeros around the
input, **stride** s moves the window s cells at a time, so an n-wide input gives ⌊(n + 2p − k) / s⌋ + 1 outputs.
**Pooling** takes the maximum or the average of each window, channel by channel, with no weights to learn.
Every number is shown; the sums below give each output. The defaults are d2l's worked example.
"""
PHOTOS = sorted(str(p) for p in (Path(__file__).resolve().parents[1] / "assets" / "examples").glob("content-*.jpg"))


def conv_grid(grid: str, kernel: str, padding: int, stride: int, pool_size: int, pool_stride: int,
              pool_padding: int, pool_mode: str) -> tuple[Any, str, str]:
    """The grids with every number, the sums that make the output, and the output sizes checked against torch."""
    from lab.conv import correlate, grid_picture, parse_grid, pool, size_line, torch_pool

    x, k = parse_grid(grid, "Input"), parse_grid(kernel, "Kernel")
    padding, stride = int(padding or 0), int(stride or 1)
    pool_size, pool_stride, pool_padding = int(pool_size or 2), int(pool_stride or 1), int(pool_padding or 0)
    result = correlate(x, k, padding, stride)
    pooled, reference = pool(x, pool_size, pool_padding, pool_stride, pool_mode), \
        torch_pool(x, pool_size, pool_padding, pool_stride, pool_mode)
    same = "the same numbers as torch ✓" if result["agrees"] and bool((pooled == reference).all()) else \
        "**torch disagrees ✗**"
    sizes = "\n\n".join([
        size_line(tuple(x.shape[1:]), tuple(k.shape[1:]), padding, stride, tuple(result["torch"].shape),
                  "Convolution (torch.nn.functional.conv2d)"),
        size_line(tuple(x.shape[1:]), (pool_size, pool_size), pool_padding, pool_stride, tuple(reference.shape),
                  f"{pool_mode.capitalize()} pooling ({'max_pool2d' if pool_mode == 'max' else 'avg_pool2d'})"),
        f"Values: {same}."])
    return grid_picture(x, k, result, pooled, pool_mode), "\n".join(result["sums"]), sizes


def conv_photo(image: str | None, kernel: str, padding: int, stride: int) -> tuple[Any, Any, str]:
    from lab.conv import filter_photo, size_line

    if not image:
        raise UserError("Upload a photo, or pick one of the examples.")
    out = filter_photo(image, kernel, int(padding or 0), int(stride or 1))
    return out["input"], out["output"], size_line(out["input_size"], (3, 3), int(padding or 0), int(stride or 1),
                                                   out["torch"], f"{out['input_size'][0]} x {out['input_size'][1]} "
                                                                 f"px, 3x3 kernel")


def conv_section() -> None:
    from lab.conv import KERNELS

    gr.Markdown(CONV_INTRO)
    with gr.Row():
        grid = gr.Textbox("0 1 2; 3 4 5; 6 7 8", label="Input", scale=3,
                          info="numbers; rows separated by ';', channels by '|'")
        kernel = gr.Textbox("0 1; 2 3", label="Kernel", scale=2, info="one slice per input channel, by '|'")
        padding = gr.Number(0, label="Padding", minimum=0, maximum=4, precision=0)
        stride = gr.Number(1, label="Stride", minimum=1, maximum=4, precision=0)
    with gr.Row():
        pool_mode = gr.Radio(["max", "avg"], value="max", label="Pooling of the input")
        pool_size = gr.Number(2, label="Pooling window", minimum=1, maximum=6, precision=0)
        pool_stride = gr.Number(1, label="Pooling stride", minimum=1, maximum=6, precision=0)
        pool_padding = gr.Number(0, label="Pooling padding", minimum=0, maximum=3, precision=0)
    gr.Examples([["0 1 2; 3 4 5; 6 7 8", "0 1; 2 3", 0, 1],
                 ["0 1 2; 3 4 5; 6 7 8 | 1 2 3; 4 5 6; 7 8 9", "0 1; 2 3 | 1 2; 3 4", 0, 1],
                 ["1 1 0 0 0 0 1 1; 1 1 0 0 0 0 1 1; 1 1 0 0 0 0 1 1; 1 1 0 0 0 0 1 1", "1 -1", 0, 1],
                 ["0 1 2 3; 4 5 6 7; 8 9 10 11; 12 13 14 15", "1 0; 0 1", 1, 2]],
                [grid, kernel, padding, stride], label="The notes' examples: one channel, two channels, an edge "
                                                        "detector [1, −1], padding 1 and stride 2")
    compute = gr.Button("Compute", variant="primary")
    sizes = gr.Markdown()
    picture = gr.Image(label="Every number", type="pil", show_label=False)
    sums = gr.Textbox(label="How each output is made", lines=6, max_lines=20)
    compute.click(conv_grid, None, [picture, sums, sizes], api_name="foundations_convolution",
                  inputs_kwargs={"grid": grid, "kernel": kernel, "padding": padding, "stride": stride,
                                 "pool_size": pool_size, "pool_stride": pool_stride, "pool_padding": pool_padding,
                                 "pool_mode": pool_mode})
    gr.Markdown("### Classic kernels on a photo\nThe same operation with a hand-made 3x3 kernel over the photo in "
                "grey levels: edge detectors answer where brightness changes, a blur averages, sharpening adds the "
                "difference from the neighbours back. A CNN learns such kernels instead of being given them.")
    with gr.Row():
        photo = gr.File(label="Photo (PNG, JPEG, BMP, GIF, TIFF, WebP)", file_types=["image"], type="filepath",
                        scale=2)
        with gr.Column(scale=2):
            photo_kernel = gr.Dropdown(list(KERNELS), value="vertical edges", label="Kernel")
            with gr.Row():
                photo_padding = gr.Number(1, label="Padding", minimum=0, maximum=8, precision=0)
                photo_stride = gr.Number(1, label="Stride", minimum=1, maximum=8, precision=0)
            apply = gr.Button("Apply", variant="primary")
    gr.Examples(PHOTOS, inputs=photo, label="Photos shipped with scikit-image")
    photo_size = gr.Markdown()
    with gr.Row():
        grey = gr.Image(label="Input (grey levels)", type="pil")
        filtered = gr.Image(label="Output", type="pil")
    apply.click(conv_photo, None, [grey, filtered, photo_size], api_name="foundations_kernel",
                inputs_kwargs={"image": photo, "kernel": photo_kernel, "padding": photo_padding,
                               "stride": photo_stride})


REGRESSION_INTRO = """
**Linear regression** fits ŷ = w₀ + w₁x + … + w_d x^d, linear in the weights, by least squares. It has a **closed
form**, the normal equations w* = (ΦᵀΦ)⁻¹Φᵀy (with L2: ΦᵀΦ + nλI), and **gradient descent** reaches the same w*
step by step if the learning rate stays below 2 / (the largest curvature). Raise the degree: the training loss
always falls; the validation loss falls, then climbs. Left of its minimum the model **underfits** (high bias),
right of it it **overfits** (high variance); L2 pulls the high-degree fits back.
"""

BACKPROP_INTRO = """
**Backpropagation** is the chain rule applied node by node from the loss back to the inputs: each node passes
back ∂L/∂(its input) = ∂L/∂(its output) × its local derivative. Below, a two-layer network on one example
(x: 2 numbers, 3 hidden units, one output, L = ½ (z2 − y)²) shows each node's value and its gradient. A
**gradient check** compares the backward pass with the slope measured by nudging each parameter both ways,
(L(θ + ε) − L(θ − ε)) / 2ε, by relative error |a − n| / (|a| + |n|): about 1e-10 (float64) when the derivation is
right. Plant a classic bug in the backward pass and watch the check find the parameters it breaks.
"""


def regression(dataset: str, points: int, noise: float, degree: int, l2: float, lr: float, steps: int,
               seed: int, csv: str | None = None) -> Iterator[tuple[Any, str]]:
    """Both fits, gradient descent's losses and the degree sweep, streamed while gradient descent runs."""
    from lab.regression import (closed_form, degree_sweep, features, gradient_descent, largest_curvature, loss,
                                picture, split)

    data = split(dataset, int(points or 0), float(noise or 0), int(seed or 0), csv=csv or "")
    degree, l2, lr, steps = int(degree or 1), float(l2 or 0), float(lr or 0), int(steps or 1)
    phi, vphi = features(data.x, degree), features(data.vx, degree)
    w_star, sweep = closed_form(phi, data.y, l2), degree_sweep(data, l2)
    limit = 2 / largest_curvature(phi, l2)
    star_train, star_val = loss(phi, data.y, w_star), loss(vphi, data.vy, w_star)
    history: list[tuple[int, float, float]] = []
    for step, w in throttled(gradient_descent(phi, data.y, lr, steps, l2, every=max(1, steps // 100))):
        history.append((step, loss(phi, data.y, w), loss(vphi, data.vy, w)))
        gap = float((w - w_star).abs().max())
        text = (f"Step {step} / {steps} · train loss {history[-1][1]:.4f}, validation {history[-1][2]:.4f} · closed "
                f"form: train {star_train:.4f}, validation {star_val:.4f} · largest |w − w*| {gap:.2e} · gradient "
                f"descent converges for η < {limit:.3g}")
        yield picture(data, degree, w_star, w, step, history, sweep, star_train), text


def regression_section() -> None:
    from lab.regression import DATASETS, MAX_DEGREE, MAX_POINTS, MAX_STEPS

    gr.Markdown(REGRESSION_INTRO)
    with gr.Row():
        dataset = gr.Dropdown(list(DATASETS), value="sine", label="Data")
        points = gr.Slider(4, MAX_POINTS, value=40, step=1, label="Points (half train, half validation)")
        noise = gr.Slider(0, 2, value=0.2, step=0.05, label="Noise")
        seed = gr.Number(0, label="Seed", precision=0)
        csv = gr.File(label="CSV: x, target (a header line is fine)", file_types=[".csv", ".txt"], type="filepath",
                      visible=False)
    with gr.Row():
        degree = gr.Slider(1, MAX_DEGREE, value=3, step=1, label="Degree d")
        l2 = gr.Number(0.0, label="L2 (λ)", minimum=0, maximum=10)
        lr = gr.Number(1.0, label="Learning rate η", minimum=1e-6, maximum=10)
        steps = gr.Slider(10, MAX_STEPS, value=2000, step=10, label="Gradient-descent steps")
    with gr.Row():
        run = gr.Button("Fit", variant="primary")
        stop = gr.Button("Stop", variant="stop")
    status = gr.Markdown()
    picture = gr.Image(label="Fits, losses, bias and variance", type="pil", show_label=False)
    running = run.click(regression, None, [picture, status], api_name="foundations_regression", **IN_REQUEST,
                        inputs_kwargs={"dataset": dataset, "points": points, "noise": noise, "degree": degree,
                                       "l2": l2, "lr": lr, "steps": steps, "seed": seed, "csv": csv})
    stop.click(None, None, None, cancels=[running])
    shows_csv(dataset, csv, hidden=[points, noise])


def shows_csv(dataset: gr.Dropdown, csv: gr.File, hidden: list) -> None:
    """The CSV upload appears when "your CSV" is the data, and the generator's ``hidden`` fields go."""
    dataset.change(lambda d: [gr.update(visible=d == "your CSV"), *[gr.update(visible=d != "your CSV")] * len(hidden)],
                   dataset, [csv, *hidden], queue=False, api_visibility="private")


def backprop(x1: float, x2: float, target: float, activation: str, seed: int, bug: str,
             eps: float) -> tuple[Any, str, list[list[Any]]]:
    """The graph with values and gradients, the verdict, and the gradient check's rows."""
    from lab.backprop import BUGS, PASS, forward_backward, grad_check, graph_picture, init_params, torch_input

    x, params = torch_input(x1, x2), init_params(int(seed or 0))
    result = forward_backward(params, x, float(target or 0), activation, bug)
    rows = grad_check(params, x, float(target or 0), activation, bug, float(eps or 1e-6))
    bad, worst = [r[0] for r in rows if r[5] == "✗"], max(r[4] for r in rows)
    verdict = (f"All {len(rows)} gradients agree with the numbers (largest relative error {worst:.1e}, under "
               f"{PASS:g})." if not bad else
               f"**{len(bad)} of {len(rows)} gradients disagree** (largest relative error {worst:.2f}): "
               f"{', '.join(bad)}. The planted bug: {BUGS[bug]}.")
    return graph_picture(result, activation), verdict, [[r[0], *(float(f"{v:.6g}") for v in r[1:5]), r[5]]
                                                        for r in rows]


def backprop_section() -> None:
    from lab.backprop import ACTIVATIONS, BUGS

    gr.Markdown(BACKPROP_INTRO)
    with gr.Row():
        x1 = gr.Number(1.0, label="x₁")
        x2 = gr.Number(-2.0, label="x₂")
        target = gr.Number(0.5, label="target y")
        activation = gr.Dropdown(list(ACTIVATIONS), value="sigmoid", label="Activation")
        seed = gr.Number(0, label="Seed (the weights)", precision=0)
    with gr.Row():
        bug = gr.Dropdown(list(BUGS), value="none", label="Backward pass", scale=2,
                          info="none: as derived; the others plant a classic mistake")
        eps = gr.Number(1e-6, label="ε of the central difference", minimum=1e-10, maximum=0.1)
        go = gr.Button("Check the gradients", variant="primary")
    verdict = gr.Markdown()
    graph = gr.Image(label="The computation graph", type="pil", show_label=False)
    table = gr.Dataframe(headers=["parameter", "backprop", "numeric", "autograd", "relative error", "ok"],
                         label="Gradient check", interactive=False)
    go.click(backprop, None, [graph, verdict, table], api_name="foundations_backprop",
             inputs_kwargs={"x1": x1, "x2": x2, "target": target, "activation": activation, "seed": seed,
                            "bug": bug, "eps": eps})


PLAYGROUND_INTRO = """
Points in the plane, two or three classes, and a model that learns to separate them as you watch. **Softmax
regression** and the **linear SVM** (hinge loss Σ max(0, s_j − s_y + 1)) draw straight boundaries; **kNN** votes
among the k nearest training points (no training: small k overfits, large k underfits); an **MLP** bends the
boundary with its hidden layers. Filled points train, white-rimmed ones validate: a validation loss that rises
while the training loss falls is **overfitting**; L2 (weight decay), L1, dropout and early stopping fight it.
Try sigmoid, 6 layers and a small initialisation: the gradient norms of the first layers fall towards zero
(**vanishing gradients**); a large one makes them explode. Xavier and He initialisations keep them even.
"""


def _knobs(values: dict[str, Any]):
    from lab.playground import Knobs

    knobs = Knobs(**{k: (type(getattr(Knobs, k))(v) if v is not None else getattr(Knobs, k))
                     for k, v in values.items()})
    knobs.check()
    return knobs


def _shown(frame, knobs) -> tuple[Any, str]:
    from lab.playground import frame_picture

    text = (f"Step {frame.step} / {knobs.steps} · train accuracy **{frame.train_acc:.3f}** · validation "
            f"**{frame.val_acc:.3f}**" if knobs.model != "kNN" else
            f"k = {knobs.k}: train accuracy **{frame.train_acc:.3f}**, validation **{frame.val_acc:.3f}**")
    return frame_picture(frame, knobs), text + (f" · {frame.stopped}" if frame.stopped else "")


def _session_for(session: Any, knobs: Any):
    """The paused session when the knobs are its own (a new step count or learning rate is taken on the fly, as
    in TensorFlow Playground), else a new one."""
    from lab.playground import Session

    if session is not None and session.continues(knobs) and not session.stopped and session.step < knobs.steps:
        session.retune(knobs)
        return session
    return Session(knobs)


def playground(session: Any = None, **values: Any) -> Iterator[tuple[Any, str, Any]]:
    """Train (or go on training) and stream the decision regions and the curves; Pause keeps the session."""
    from lab import one_thread

    knobs = _knobs(values)
    session = _session_for(session, knobs)
    every = max(1, knobs.steps // 100)
    for frame in throttled(one_thread(session.run(every))):
        yield *_shown(frame, knobs), session


def playground_step(session: Any = None, **values: Any) -> tuple[Any, str, Any]:
    """One frame's worth of steps (a hundredth of the run), then stop: the Step button."""
    from lab import one_thread

    knobs = _knobs(values)
    if session is not None and session.continues(knobs) and session.step >= knobs.steps:
        raise UserError(f"This run has done its {knobs.steps} steps: raise Steps to go on, or press Reset (then "
                        "Step or Train) for a new run.")
    session = _session_for(session, knobs)
    frame = next(one_thread(session.run(max(1, knobs.steps // 100))), None) or session.frame()  # (done: as it is)
    return *_shown(frame, knobs), session


def playground_now(session: Any) -> tuple[Any, str]:
    """The paused session as it stands (the page may have been a frame or two behind the computation)."""
    if session is None:
        return gr.update(), gr.update()
    picture, text = _shown(session.frame(), session.knobs)
    return picture, text + " · paused"


def push_playground(session: Any, repo: str, private: bool, choice: str, url: str, token: str) -> str:
    """Push the session as a model repo (knobs, weights and points, a card) to the picked hub."""
    import tempfile

    from hub import client as hubs
    from hub.card import write_card

    if session is None or session.step == 0:
        raise UserError("Train a model first (or pull one): there is nothing to push yet.")
    repo_id = hubs.check_repo_id(repo)
    hub = get_hub(choice, url, token)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "model"
        session.save(folder)
        write_card(folder, session.card(repo_id))
        url_ = hubs.push_folder(folder, repo_id, hub, private=bool(private),
                                commit_message=f"2-D playground: {session.knobs.model} on {session.knobs.dataset}")
    return f"Pushed to **{repo_id}** on {hub.label}: {url_}"


def pull_playground(repo: str, choice: str, url: str, token: str) -> tuple[Any, Any, str, dict[str, Any]]:
    """(the pulled session, its picture, a status line, its knobs by field name): Train goes on from it."""
    from hub import client as hubs
    from lab.playground import Session

    repo_id = hubs.check_repo_id(repo)
    session = Session.load(Path(visitors.pull(repo_id, get_hub(choice, url, token))))
    picture, text = _shown(session.frame(), session.knobs)
    return session, picture, f"Pulled **{repo_id}** · {text}", vars(session.knobs)


def playground_section(ctx: AppContext) -> None:
    from lab.playground import ACTIVATIONS, DATASETS, INITS, MAX_LAYERS, MAX_POINTS, MAX_STEPS, MAX_WIDTH, MODELS

    gr.Markdown(PLAYGROUND_INTRO)
    with gr.Row():
        dataset = gr.Dropdown(list(DATASETS), value="moons", label="Data")
        points = gr.Slider(20, MAX_POINTS, value=400, step=20, label="Points")
        noise = gr.Slider(0, 2, value=0.2, step=0.05, label="Noise")
        val_fraction = gr.Slider(0.05, 0.9, value=0.3, step=0.05, label="Validation share")
        seed = gr.Number(0, label="Seed", precision=0)
        csv = gr.File(label="CSV: x, y, label (2 to 10 labels; scaled into the plane)", file_types=[".csv", ".txt"],
                      type="filepath", visible=False)
    with gr.Row():
        model = gr.Dropdown(list(MODELS), value="MLP", label="Model")
        layers = gr.Slider(1, MAX_LAYERS, value=2, step=1, label="Hidden layers (MLP)")
        width = gr.Slider(1, MAX_WIDTH, value=8, step=1, label="Units per layer")
        activation = gr.Dropdown(list(ACTIVATIONS), value="tanh", label="Activation")
        init = gr.Dropdown(list(INITS), value="default", label="Initialisation")
        k = gr.Slider(1, 50, value=5, step=1, label="k (kNN)")
    with gr.Row():
        optimiser = gr.Radio(["SGD", "Adam"], value="SGD", label="Optimiser")
        lr = gr.Number(0.1, label="Learning rate (changes on the fly)", minimum=1e-5, maximum=10)
        batch_size = gr.Slider(1, 256, value=32, step=1, label="Batch size")
        steps = gr.Slider(10, MAX_STEPS, value=1000, step=10, label="Steps")
    with gr.Row():
        l2 = gr.Number(0.0, label="L2 (λ Σw²)", minimum=0, maximum=10)
        l1 = gr.Number(0.0, label="L1 (λ Σ|w|)", minimum=0, maximum=10)
        dropout = gr.Slider(0, 0.9, value=0, step=0.05, label="Dropout")
        batch_norm = gr.Checkbox(False, label="Batch norm")
        patience = gr.Number(0, label="Early stopping patience (checks; 0 = off)", minimum=0, precision=0)
    with gr.Row():
        run = gr.Button("Train", variant="primary")
        pause = gr.Button("Pause")
        step = gr.Button("Step")
        reset = gr.Button("Reset", variant="stop")
    status = gr.Markdown()
    picture = gr.Image(label="Decision regions, losses, gradient norms, weights", type="pil", show_label=False)
    session = gr.State(None)
    with gr.Accordion("Push this model to a hub, or pull one", open=False):
        gr.Markdown("A playground model is small, but the loop is the lesson: its repo holds the knobs, the weights, "
                    "the points it learned from and a model card. Pulled, it shows its regions and sets the form to "
                    "its knobs; raise Steps and press Train to train it on.")
        picker = hub_picker(ctx)
        with gr.Row():
            repo = gr.Textbox(label="Repo id", placeholder="you/moons-mlp", scale=3)
            private = gr.Checkbox(label="Private", scale=1)
            push = gr.Button("Push", scale=1)
            pull = gr.Button("Pull", scale=1)
        said = gr.Markdown()
    fields = {"dataset": dataset, "points": points, "noise": noise, "val_fraction": val_fraction, "seed": seed,
              "model": model, "layers": layers, "width": width, "activation": activation, "init": init, "k": k,
              "optimiser": optimiser, "lr": lr, "batch_size": batch_size, "steps": steps, "l1": l1, "l2": l2,
              "dropout": dropout, "batch_norm": batch_norm, "patience": patience, "csv": csv}
    shown = [picture, status, session]
    # Cleared first: after a bad value or file, no earlier picture stays beside the message as if it were the answer.
    running = run.click(lambda: (None, ""), None, [picture, status], queue=False, api_visibility="private").then(
        playground, None, shown, api_name="foundations_playground", **IN_REQUEST,
        inputs_kwargs={"session": session, **fields})
    pause.click(None, None, None, cancels=[running], queue=False).then(
        playground_now, session, [picture, status], queue=False, api_visibility="private")
    step.click(playground_step, None, shown, api_name="foundations_playground_step", **IN_REQUEST,
               inputs_kwargs={"session": session, **fields})
    reset.click(lambda: (None, "", None), None, shown, cancels=[running], queue=False, api_visibility="private")
    shows_csv(dataset, csv, hidden=[points, noise])
    push.click(push_playground, [session, repo, private, *picker.inputs], said,
               api_name="foundations_playground_push")
    ctx.on_load(lambda: gr.update(placeholder=visitors.namespaced("you/moons-mlp")), repo)
    knob_fields = {name: c for name, c in fields.items() if name != "csv"}

    def pulled(repo_: str, choice: str, url: str, token: str) -> dict:
        session_, picture_, text, knobs = pull_playground(repo_, choice, url, token)
        return {picture: picture_, status: text, session: session_, said: text.split(" · ")[0] + ".",
                **{c: knobs[name] for name, c in knob_fields.items()}}

    pull.click(pulled, [repo, *picker.inputs], [*knob_fields.values(), picture, status, session, said],
               api_name="foundations_playground_pull")


def build(ctx: AppContext) -> None:
    gr.Markdown("The foundations the rest of the course stands on, computed as you watch.")
    with gr.Tab("Regression"):
        regression_section()
    with gr.Tab("2-D playground"):
        playground_section(ctx)
    with gr.Tab("Backprop and gradient check"):
        backprop_section()
    with gr.Tab("Optimisers"):
        optimiser_section()
    with gr.Tab("Convolution"):
        conv_section()

"""Foundations tab: the first half of the course, computed in the request (lab/): the 2-D playground, linear
regression (closed form, gradient descent, bias and variance), backprop with a gradient check, the optimiser lab and
the convolution explorer."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import gradio as gr

from common.errors import UserError
from lab.optim import MAX_STEPS, OPTIMISERS, SURFACES
from training.config import SCHEDULES

from . import visitors
from .common import IN_REQUEST, AppContext, get_hub, hub_picker, throttled
from .i18n import L, choice, t

TITLE = "Foundations"


def _table(rows: list[list[Any]], headers: list[str]) -> Any:
    """A table's rows under headers in the visitor's language (what a handler returns)."""
    import pandas as pd

    return pd.DataFrame(rows, columns=headers)


def _marker(key: str) -> str:
    """A layout table's header: a marker the page translates (with no request, t() is English)."""
    return str(L(key))


def _lr_key(name: str) -> str:
    return f"lr_{name.lower()}"


def surface_names() -> dict[str, str]:
    """Each loss surface's name (the value the handler gets) as the visitor reads it."""
    return {"ill-conditioned quadratic": t("foundations.surface_quadratic"), "Rosenbrock": "Rosenbrock",
            "saddle": t("foundations.surface_saddle"), "Beale": "Beale",
            "noisy quadratic": t("foundations.surface_noisy")}


def race_headers(word: Callable[[str], str] = t) -> list[str]:
    return [word("foundations.col_optimiser"), "x", "y", "f", word("foundations.col_distance"),
            word("foundations.col_status")]


def optimiser_race(surface: str, steps: int, schedule: str, warmup: int, seed: int, chosen: list[str],
                   **lrs: float) -> Iterator[tuple[Any, str, Any]]:
    """The race's picture, a status line and the final positions, streamed while the optimisers run."""
    from lab.optim import race, race_picture, summary

    if surface not in SURFACES:
        raise UserError(t("foundations.pick_surface", surfaces=", ".join(SURFACES)))
    if not chosen:
        raise UserError(t("foundations.pick_optimiser"))
    rates = {}
    for name in chosen:
        lr = lrs.get(_lr_key(name))
        if lr is None or not 0 < float(lr) <= 10:
            raise UserError(t("foundations.bad_lr", name=name))
        rates[name] = float(lr)
    steps, warmup = int(steps or 0), int(warmup or 0)
    if not 1 <= steps <= MAX_STEPS:
        raise UserError(t("foundations.bad_steps", max=MAX_STEPS))
    if not 0 <= warmup < steps:
        raise UserError(t("foundations.bad_warmup"))
    every = max(1, steps // 60)
    name = surface_names().get(surface, surface)
    for state in throttled(race(surface, rates, steps, schedule, warmup, seed=int(seed or 0), every=every)):
        stopped = "; ".join(f"{n} {why}" for n, why in state.stopped.items())
        note = SURFACES[surface].note()
        text = (t("foundations.race_status_stopped", step=state.step, steps=steps, surface=name, note=note,
                  stopped=stopped) if stopped else
                t("foundations.race_status", step=state.step, steps=steps, surface=name, note=note))
        yield race_picture(state), text, _table(summary(state), race_headers())


def optimiser_section(ctx: AppContext) -> None:
    gr.Markdown(L("foundations.optim_intro"))
    first = next(iter(SURFACES))
    surfaces = [choice("foundations.surface_quadratic", "ill-conditioned quadratic"), "Rosenbrock",
                choice("foundations.surface_saddle", "saddle"), "Beale",
                choice("foundations.surface_noisy", "noisy quadratic")]
    with gr.Row():
        surface = gr.Dropdown(surfaces, value=first, label=L("foundations.loss_surface"), scale=2)
        chosen = gr.CheckboxGroup(list(OPTIMISERS), value=["SGD", "Momentum", "RMSProp", "Adam"],
                                  label=L("foundations.optimisers"), scale=4)
    with gr.Row():
        steps = gr.Slider(10, MAX_STEPS, value=200, step=10, label=L("foundations.steps"))
        schedule = gr.Dropdown(list(SCHEDULES), value="constant", label=L("foundations.lr_schedule"))
        warmup = gr.Number(0, label=L("foundations.warmup_steps"), minimum=0, precision=0)
        seed = gr.Number(0, label=L("foundations.noise_seed"), precision=0)
    with gr.Accordion(L("foundations.learning_rates"), open=False):
        with gr.Row():
            lrs = {name: gr.Number(SURFACES[first].lrs[name], label=f"{name} η", minimum=0, maximum=10)
                   for name in OPTIMISERS}
    run = gr.Button(L("foundations.run"), variant="primary")
    status = gr.Markdown()
    picture = gr.Image(label=L("foundations.trajectories"), type="pil", show_label=False, height=460)
    table = gr.Dataframe(headers=race_headers(_marker), label=L("foundations.where_ended"), interactive=False)
    surface.change(lambda s: [SURFACES.get(s, SURFACES[first]).lrs[n] for n in OPTIMISERS], surface, list(lrs.values()),
                   api_visibility="private", queue=False)
    run.click(optimiser_race, None, [picture, status, table], api_name="foundations_optimisers", **IN_REQUEST,
              inputs_kwargs={"surface": surface, "steps": steps, "schedule": schedule, "warmup": warmup,
                             "seed": seed, "chosen": chosen, **{_lr_key(n): c for n, c in lrs.items()}})


PHOTOS = sorted(str(p) for p in (Path(__file__).resolve().parents[1] / "assets" / "examples").glob("content-*.jpg"))


def conv_grid(grid: str, kernel: str, padding: int, stride: int, pool_size: int, pool_stride: int,
              pool_padding: int, pool_mode: str) -> tuple[Any, str, str]:
    """The grids with every number, the sums that make the output, and the output sizes checked against torch."""
    from lab.conv import correlate, grid_picture, parse_grid, pool, size_line, torch_pool

    x, k = parse_grid(grid, t("foundations.input")), parse_grid(kernel, t("foundations.kernel"))
    padding, stride = int(padding or 0), int(stride or 1)
    pool_size, pool_stride, pool_padding = int(pool_size or 2), int(pool_stride or 1), int(pool_padding or 0)
    result = correlate(x, k, padding, stride)
    pooled, reference = pool(x, pool_size, pool_padding, pool_stride, pool_mode), \
        torch_pool(x, pool_size, pool_padding, pool_stride, pool_mode)
    agrees = result["agrees"] and bool((pooled == reference).all())
    pooling = t("foundations.max_pooling") if pool_mode == "max" else t("foundations.avg_pooling")
    sizes = "\n\n".join([
        size_line(tuple(x.shape[1:]), tuple(k.shape[1:]), padding, stride, tuple(result["torch"].shape),
                  t("foundations.convolution_what")),
        size_line(tuple(x.shape[1:]), (pool_size, pool_size), pool_padding, pool_stride, tuple(reference.shape),
                  f"{pooling} ({'max_pool2d' if pool_mode == 'max' else 'avg_pool2d'})"),
        t("foundations.values_agree") if agrees else t("foundations.values_disagree")])
    return grid_picture(x, k, result, pooled, pool_mode), "\n".join(result["sums"]), sizes


def conv_photo(image: str | None, kernel: str, padding: int, stride: int) -> tuple[Any, Any, str]:
    from lab.conv import filter_photo, size_line

    if not image:
        raise UserError(t("foundations.upload_photo"))
    out = filter_photo(image, kernel, int(padding or 0), int(stride or 1))
    return out["input"], out["output"], size_line(out["input_size"], (3, 3), int(padding or 0), int(stride or 1),
                                                   out["torch"], t("foundations.photo_what", h=out["input_size"][0],
                                                                   w=out["input_size"][1]))


def conv_section() -> None:
    gr.Markdown(L("foundations.conv_intro"))
    with gr.Row():
        grid = gr.Textbox("0 1 2; 3 4 5; 6 7 8", label=L("foundations.input"), scale=3,
                          info=L("foundations.input_info"))
        kernel = gr.Textbox("0 1; 2 3", label=L("foundations.kernel"), scale=2, info=L("foundations.kernel_info"))
        padding = gr.Number(0, label=L("foundations.padding"), minimum=0, maximum=4, precision=0)
        stride = gr.Number(1, label=L("foundations.stride"), minimum=1, maximum=4, precision=0)
    with gr.Row():
        pool_mode = gr.Radio([choice("foundations.pool_max", "max"), choice("foundations.pool_avg", "avg")],
                             value="max", label=L("foundations.pool_mode"))
        pool_size = gr.Number(2, label=L("foundations.pool_window"), minimum=1, maximum=6, precision=0)
        pool_stride = gr.Number(1, label=L("foundations.pool_stride"), minimum=1, maximum=6, precision=0)
        pool_padding = gr.Number(0, label=L("foundations.pool_padding"), minimum=0, maximum=3, precision=0)
    gr.Examples([["0 1 2; 3 4 5; 6 7 8", "0 1; 2 3", 0, 1],
                 ["0 1 2; 3 4 5; 6 7 8 | 1 2 3; 4 5 6; 7 8 9", "0 1; 2 3 | 1 2; 3 4", 0, 1],
                 ["1 1 0 0 0 0 1 1; 1 1 0 0 0 0 1 1; 1 1 0 0 0 0 1 1; 1 1 0 0 0 0 1 1", "1 -1", 0, 1],
                 ["0 1 2 3; 4 5 6 7; 8 9 10 11; 12 13 14 15", "1 0; 0 1", 1, 2]],
                [grid, kernel, padding, stride], label=L("foundations.conv_examples"))
    compute = gr.Button(L("foundations.compute"), variant="primary")
    sizes = gr.Markdown()
    picture = gr.Image(label=L("foundations.every_number"), type="pil", show_label=False)
    sums = gr.Textbox(label=L("foundations.how_made"), lines=6, max_lines=20)
    compute.click(conv_grid, None, [picture, sums, sizes], api_name="foundations_convolution",
                  inputs_kwargs={"grid": grid, "kernel": kernel, "padding": padding, "stride": stride,
                                 "pool_size": pool_size, "pool_stride": pool_stride, "pool_padding": pool_padding,
                                 "pool_mode": pool_mode})
    gr.Markdown(L("foundations.kernels_intro"))
    kernels = [choice("foundations.kernel_vertical", "vertical edges"),
               choice("foundations.kernel_horizontal", "horizontal edges"),
               choice("foundations.kernel_blur", "blur (box 3x3)"), choice("foundations.kernel_sharpen", "sharpen"),
               choice("foundations.kernel_identity", "identity")]
    with gr.Row():
        photo = gr.File(label=L("foundations.photo"), file_types=["image"], type="filepath", scale=2)
        with gr.Column(scale=2):
            photo_kernel = gr.Dropdown(kernels, value="vertical edges", label=L("foundations.kernel"))
            with gr.Row():
                photo_padding = gr.Number(1, label=L("foundations.padding"), minimum=0, maximum=8, precision=0)
                photo_stride = gr.Number(1, label=L("foundations.stride"), minimum=1, maximum=8, precision=0)
            apply = gr.Button(L("foundations.apply"), variant="primary")
    gr.Examples(PHOTOS, inputs=photo, label=L("foundations.photo_examples"))
    photo_size = gr.Markdown()
    with gr.Row():
        grey = gr.Image(label=L("foundations.grey_input"), type="pil")
        filtered = gr.Image(label=L("foundations.output"), type="pil")
    apply.click(conv_photo, None, [grey, filtered, photo_size], api_name="foundations_kernel",
                inputs_kwargs={"image": photo, "kernel": photo_kernel, "padding": photo_padding,
                               "stride": photo_stride})


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
        text = t("foundations.regression_status", step=step, steps=steps, train=history[-1][1], val=history[-1][2],
                 star_train=star_train, star_val=star_val, gap=gap, limit=limit)
        yield picture(data, degree, w_star, w, step, history, sweep, star_train), text


def regression_section() -> None:
    from lab.regression import MAX_DEGREE, MAX_POINTS, MAX_STEPS

    gr.Markdown(L("foundations.regression_intro"))
    datasets = [choice("foundations.data_line", "line"), choice("foundations.data_sine", "sine"),
                choice("foundations.data_cubic", "cubic"), choice("foundations.data_csv", "your CSV")]
    with gr.Row():
        dataset = gr.Dropdown(datasets, value="sine", label=L("foundations.data"))
        points = gr.Slider(4, MAX_POINTS, value=40, step=1, label=L("foundations.points_half"))
        noise = gr.Slider(0, 2, value=0.2, step=0.05, label=L("foundations.noise"))
        seed = gr.Number(0, label=L("foundations.seed"), precision=0)
        csv = gr.File(label=L("foundations.csv_regression"), file_types=[".csv", ".txt"], type="filepath",
                      visible=False)
    with gr.Row():
        degree = gr.Slider(1, MAX_DEGREE, value=3, step=1, label=L("foundations.degree"))
        l2 = gr.Number(0.0, label="L2 (λ)", minimum=0, maximum=10)
        lr = gr.Number(1.0, label=L("foundations.learning_rate_eta"), minimum=1e-6, maximum=10)
        steps = gr.Slider(10, MAX_STEPS, value=2000, step=10, label=L("foundations.gd_steps"))
    with gr.Row():
        run = gr.Button(L("foundations.fit"), variant="primary")
        stop = gr.Button(L("foundations.stop"), variant="stop")
    status = gr.Markdown()
    picture = gr.Image(label=L("foundations.fits_picture"), type="pil", show_label=False)
    running = run.click(regression, None, [picture, status], api_name="foundations_regression", **IN_REQUEST,
                        inputs_kwargs={"dataset": dataset, "points": points, "noise": noise, "degree": degree,
                                       "l2": l2, "lr": lr, "steps": steps, "seed": seed, "csv": csv})
    stop.click(None, None, None, cancels=[running])
    shows_csv(dataset, csv, hidden=[points, noise])


def shows_csv(dataset: gr.Dropdown, csv: gr.File, hidden: list) -> None:
    """The CSV upload appears when "your CSV" is the data, and the generator's ``hidden`` fields go."""
    dataset.change(lambda d: [gr.update(visible=d == "your CSV"), *[gr.update(visible=d != "your CSV")] * len(hidden)],
                   dataset, [csv, *hidden], queue=False, api_visibility="private")


def check_headers(word: Callable[[str], str] = t) -> list[str]:
    return [word("foundations.col_parameter"), word("foundations.col_backprop"), word("foundations.col_numeric"),
            "autograd", word("foundations.col_relative_error"), word("foundations.col_ok")]


def backprop(x1: float, x2: float, target: float, activation: str, seed: int, bug: str,
             eps: float) -> tuple[Any, str, Any]:
    """The graph with values and gradients, the verdict, and the gradient check's rows."""
    from lab.backprop import BUGS, PASS, forward_backward, grad_check, graph_picture, init_params, torch_input

    x, params = torch_input(x1, x2), init_params(int(seed or 0))
    result = forward_backward(params, x, float(target or 0), activation, bug)
    rows = grad_check(params, x, float(target or 0), activation, bug, float(eps or 1e-6))
    bad, worst = [r[0] for r in rows if r[5] == "✗"], max(r[4] for r in rows)
    verdict = (t("foundations.check_passed", n=len(rows), worst=worst, bound=PASS) if not bad else
               t("foundations.check_failed", bad=len(bad), n=len(rows), worst=worst, which=", ".join(bad),
                 bug=BUGS[bug]()))
    return graph_picture(result, activation), verdict, _table(
        [[r[0], *(float(f"{v:.6g}") for v in r[1:5]), r[5]] for r in rows], check_headers())


def backprop_section(ctx: AppContext) -> None:
    from lab.backprop import ACTIVATIONS

    gr.Markdown(L("foundations.backprop_intro"))
    bugs = [choice("foundations.bug_none", "none"),
            choice("foundations.bug_forgotten", "activation derivative forgotten"),  # i18n: not shown (a value)
            choice("foundations.bug_sigmoid", "sigmoid derivative as σ(z)"),  # i18n: not shown (a value)
            choice("foundations.bug_w2", "W2 gradient without h"),
            choice("foundations.bug_b1", "b1 gradient doubled")]
    with gr.Row():
        x1 = gr.Number(1.0, label="x₁")
        x2 = gr.Number(-2.0, label="x₂")
        target = gr.Number(0.5, label=L("foundations.target_y"))
        activation = gr.Dropdown(list(ACTIVATIONS), value="sigmoid", label=L("foundations.activation"))
        seed = gr.Number(0, label=L("foundations.weights_seed"), precision=0)
    with gr.Row():
        bug = gr.Dropdown(bugs, value="none", label=L("foundations.backward_pass"), scale=2,
                          info=L("foundations.backward_pass_info"))
        eps = gr.Number(1e-6, label=L("foundations.eps"), minimum=1e-10, maximum=0.1)
        go = gr.Button(L("foundations.check_gradients"), variant="primary")
    verdict = gr.Markdown()
    graph = gr.Image(label=L("foundations.graph"), type="pil", show_label=False)
    table = gr.Dataframe(headers=check_headers(_marker), label=L("foundations.gradient_check"), interactive=False)
    go.click(backprop, None, [graph, verdict, table], api_name="foundations_backprop",
             inputs_kwargs={"x1": x1, "x2": x2, "target": target, "activation": activation, "seed": seed,
                            "bug": bug, "eps": eps})


def _knobs(values: dict[str, Any]):
    from lab.playground import Knobs

    knobs = Knobs(**{k: (type(getattr(Knobs, k))(v) if v is not None else getattr(Knobs, k))
                     for k, v in values.items()})
    knobs.check()
    return knobs


def _shown(frame, knobs) -> tuple[Any, str]:
    from lab.playground import frame_picture

    text = (t("foundations.playground_status", step=frame.step, steps=knobs.steps, train=frame.train_acc,
              val=frame.val_acc) if knobs.model != "kNN" else
            t("foundations.knn_status", k=knobs.k, train=frame.train_acc, val=frame.val_acc))
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
        raise UserError(t("foundations.run_done", steps=knobs.steps))
    session = _session_for(session, knobs)
    frame = next(one_thread(session.run(max(1, knobs.steps // 100))), None) or session.frame()  # (done: as it is)
    return *_shown(frame, knobs), session


def playground_now(session: Any) -> tuple[Any, str]:
    """The paused session as it stands (the page may have been a frame or two behind the computation)."""
    if session is None:
        return gr.update(), gr.update()
    picture, text = _shown(session.frame(), session.knobs)
    return picture, text + " · " + t("foundations.paused")


def push_playground(session: Any, repo: str, private: bool, choice: str, url: str, token: str) -> str:
    """Push the session as a model repo (knobs, weights and points, a card) to the picked hub."""
    import tempfile

    from hub import client as hubs
    from hub.card import write_card

    if session is None or session.step == 0:
        raise UserError(t("foundations.nothing_to_push"))
    repo_id = hubs.check_repo_id(repo)
    hub = get_hub(choice, url, token)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "model"
        session.save(folder)
        write_card(folder, session.card(repo_id))
        url_ = hubs.push_folder(folder, repo_id, hub, private=bool(private),
                                commit_message=f"2-D playground: {session.knobs.model} on {session.knobs.dataset}")
    return t("foundations.pushed", repo=repo_id, hub=hub.label, url=url_)


def pull_playground(repo: str, choice: str, url: str, token: str) -> tuple[Any, Any, str, dict[str, Any], str]:
    """(the pulled session, its picture, a status line, its knobs by field name, what the hub's panel says): Train
    goes on from it."""
    from hub import client as hubs
    from lab.playground import Session

    repo_id = hubs.check_repo_id(repo)
    session = Session.load(Path(visitors.pull(repo_id, get_hub(choice, url, token))))
    picture, text = _shown(session.frame(), session.knobs)
    return (session, picture, t("foundations.pulled_status", repo=repo_id, status=text), vars(session.knobs),
            t("foundations.pulled", repo=repo_id))


def playground_section(ctx: AppContext) -> None:
    from lab.playground import ACTIVATIONS, MAX_LAYERS, MAX_POINTS, MAX_STEPS, MAX_WIDTH

    gr.Markdown(L("foundations.playground_intro"))
    datasets = [choice("foundations.data_blobs", "blobs"), choice("foundations.data_moons", "moons"),
                choice("foundations.data_circles", "circles"), choice("foundations.data_spirals", "spirals"), "XOR",
                choice("foundations.data_outliers", "linear with outliers"),  # i18n: not shown (a value)
                choice("foundations.data_csv", "your CSV")]
    models = [choice("foundations.model_softmax", "softmax regression"), choice("foundations.model_svm", "linear SVM"),
              "kNN", "MLP"]
    inits = [choice("foundations.init_default", "default"), choice("foundations.init_zeros", "zeros"),
             choice("foundations.init_small", "small normal (σ 0.01)"),
             choice("foundations.init_large", "large normal (σ 1)"), "Xavier", "He"]
    with gr.Row():
        dataset = gr.Dropdown(datasets, value="moons", label=L("foundations.data"))
        points = gr.Slider(20, MAX_POINTS, value=400, step=20, label=L("foundations.points"))
        noise = gr.Slider(0, 2, value=0.2, step=0.05, label=L("foundations.noise"))
        val_fraction = gr.Slider(0.05, 0.9, value=0.3, step=0.05, label=L("foundations.validation_share"))
        seed = gr.Number(0, label=L("foundations.seed"), precision=0)
        csv = gr.File(label=L("foundations.csv_points"), file_types=[".csv", ".txt"], type="filepath", visible=False)
    with gr.Row():
        model = gr.Dropdown(models, value="MLP", label=L("foundations.model"))
        layers = gr.Slider(1, MAX_LAYERS, value=2, step=1, label=L("foundations.hidden_layers"))
        width = gr.Slider(1, MAX_WIDTH, value=8, step=1, label=L("foundations.units"))
        activation = gr.Dropdown(list(ACTIVATIONS), value="tanh", label=L("foundations.activation"))
        init = gr.Dropdown(inits, value="default", label=L("foundations.initialisation"))
        k = gr.Slider(1, 50, value=5, step=1, label="k (kNN)")
    with gr.Row():
        optimiser = gr.Radio(["SGD", "Adam"], value="SGD", label=L("foundations.optimiser"))
        lr = gr.Number(0.1, label=L("foundations.learning_rate_live"), minimum=1e-5, maximum=10)
        batch_size = gr.Slider(1, 256, value=32, step=1, label=L("foundations.batch_size"))
        steps = gr.Slider(10, MAX_STEPS, value=1000, step=10, label=L("foundations.steps"))
    with gr.Row():
        l2 = gr.Number(0.0, label="L2 (λ Σw²)", minimum=0, maximum=10)
        l1 = gr.Number(0.0, label="L1 (λ Σ|w|)", minimum=0, maximum=10)
        dropout = gr.Slider(0, 0.9, value=0, step=0.05, label=L("foundations.dropout"))
        batch_norm = gr.Checkbox(False, label=L("foundations.batch_norm"))
        patience = gr.Number(0, label=L("foundations.patience"), minimum=0, precision=0)
    with gr.Row():
        run = gr.Button(L("foundations.train"), variant="primary")
        pause = gr.Button(L("foundations.pause"))
        step = gr.Button(L("foundations.step"))
        reset = gr.Button(L("foundations.reset"), variant="stop")
    status = gr.Markdown()
    picture = gr.Image(label=L("foundations.playground_picture"), type="pil", show_label=False)
    session = gr.State(None)
    with gr.Accordion(L("foundations.push_pull"), open=False):
        gr.Markdown(L("foundations.push_pull_text"))
        picker = hub_picker(ctx)
        with gr.Row():
            repo = gr.Textbox(label=L("foundations.repo_id"), placeholder="you/moons-mlp", scale=3)
            private = gr.Checkbox(label=L("foundations.private"), scale=1)
            push = gr.Button(L("foundations.push"), scale=1)
            pull = gr.Button(L("foundations.pull"), scale=1)
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
        session_, picture_, text, knobs, said_ = pull_playground(repo_, choice, url, token)
        return {picture: picture_, status: text, session: session_, said: said_,
                **{c: knobs[name] for name, c in knob_fields.items()}}

    pull.click(pulled, [repo, *picker.inputs], [*knob_fields.values(), picture, status, session, said],
               api_name="foundations_playground_pull")


def build(ctx: AppContext) -> None:
    gr.Markdown(L("foundations.lead"))
    with gr.Tab(L("foundations.tab_regression")):
        regression_section()
    with gr.Tab(L("foundations.tab_playground")):
        playground_section(ctx)
    with gr.Tab(L("foundations.tab_backprop")):
        backprop_section(ctx)
    with gr.Tab(L("foundations.tab_optimisers")):
        optimiser_section(ctx)
    with gr.Tab(L("foundations.tab_convolution")):
        conv_section()

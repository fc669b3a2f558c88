"""Foundations tab: the first half of the course, computed in the request (lab/): the optimiser lab."""
from __future__ import annotations

from typing import Any, Iterator

import gradio as gr

from common.errors import UserError
from lab.optim import MAX_STEPS, OPTIMISERS, SURFACES
from training.config import SCHEDULES

from .common import IN_REQUEST, AppContext, throttled

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
        steps = gr.Slider(10, MAX_STEPS, value=100, step=10, label="Steps")
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


def build(ctx: AppContext) -> None:
    gr.Markdown("The foundations the rest of the course stands on, computed as you watch.")
    with gr.Tab("Optimisers"):
        optimiser_section()

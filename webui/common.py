"""Pieces every tab shares: the app context, the hub picker (hub + token fields) and the one way a
user error is shown."""
from __future__ import annotations

import contextlib
import json
import inspect
import threading
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import gradio as gr

from common.calls import within
from common.errors import UserError
from hub.client import Hub, resolve_hub

from . import visitors
from .i18n import DEFAULT, L, choice, request_locale, t

# The hub radio's values (what handlers and API calls pass) -> kind; the radio shows each in the visitor's language.
HUB_CHOICES = {"Local hub (offline)": "local", "huggingface.co": "hf", "Hub at a URL": "url"}


# Work that runs inside a request (a toy GAN trained live, Gatys' optimisation, sampling) shares the web
# process's cores with every visitor: at most two such events run at once across all tabs, the rest
# wait in Gradio's queue; each has a Stop that cancels it. Training proper runs as jobs (training.runner).
IN_REQUEST = {"concurrency_limit": 2, "concurrency_id": "in-request-compute"}
# Events that run a model in the web process (predict, detect, generate...) share one limit: many visitors
# predicting at once wait their turn instead of each loading a model into memory. On ZeroGPU hardware both
# groups run through spaces.GPU (app.py).
PREDICT = {"concurrency_limit": 4, "concurrency_id": "predict"}
# A control that re-draws a kept result (a slider's release, no model run): unqueued, the page skips the queue's
# status stages, each of which updates every component's loading status (a score move shown 254 -> 149 ms after the
# release in the browser: bench/slider_browser.py); the last move is always drawn.
INSTANT = {"queue": False, "trigger_mode": "always_last", "show_progress": "hidden"}


def on_zero_gpu() -> bool:
    """On ZeroGPU hardware (a Space sets SPACES_ZERO_GPU), where a GPU is lent to one request at a time."""
    import os

    return os.environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "true")


@dataclass
class AppContext:
    """What the command line decided, handed to every tab's ``build``."""

    demo: gr.Blocks
    default_hub: str = "local"  # "local", "hf" or a URL
    runner: Any = None  # training.runner.JobRunner shared by the task tabs
    tab: str = ""  # the tab being built
    first_tab: str = ""  # the tab a page opens on
    timers: dict[str, gr.Timer] = field(default_factory=dict)  # tab -> its job panel's timer
    identified: Any = None  # the page-load event that tells who the visitor is (webui.visitors.identify)
    page_load: list[tuple[Callable[[], Any], list]] = field(default_factory=list)  # (fn, its outputs)

    def on_load(self, fn: Callable[[], Any], outputs: Any) -> None:
        """Have ``fn()`` fill ``outputs`` when a page opens, once the visitor is known: what it shows (their jobs,
        their models) depends on who they are. All of them run in one event (``wire_page_load``): thirty events
        of their own took over 30 s to fill a reopened page on busy cores."""
        self.page_load.append((fn, outputs if isinstance(outputs, list) else [outputs]))

    def wire_page_load(self) -> None:
        """The one page-load event that runs every ``on_load``; called once the tabs are built."""
        steps = list(self.page_load)

        def fill() -> list:
            values: list = []
            for fn, group in steps:
                try:
                    got = fn()
                except Exception:  # a bug in one part: the rest of the page still fills (the log has the trace)
                    traceback.print_exc()
                    got = [gr.skip()] * len(group)
                values.extend(got if len(group) > 1 else [got])
            return values

        (self.identified.then if self.identified is not None else self.demo.load)(
            fill, None, [o for _, group in steps for o in group], api_visibility="private", show_progress="hidden")

    def axis_titles(self, plot: gr.components.Component, **keys: str) -> None:
        """A plot's axis and legend titles (x=, y=, color=: string keys) in the visitor's language, set as the page
        opens: Gradio's front end translates a plot's title, not its axes'. An English page keeps the columns' names
        (each update redraws a plot: some forty of them delayed a first click on the Hub tab by 0.7 s)."""
        def titles():
            if request_locale() == DEFAULT:
                return gr.skip()
            return gr.update(**{f"{axis}_title": t(key) for axis, key in keys.items()})

        self.on_load(titles, plot)

    @property
    def default_choice(self) -> str:
        kind = self.default_hub if self.default_hub in ("local", "hf") else "url"
        return next(label for label, k in HUB_CHOICES.items() if k == kind)

    @property
    def default_url(self) -> str:
        return self.default_hub if self.default_hub not in ("local", "hf") else ""


@dataclass
class HubPicker:
    choice: gr.Radio
    url: gr.Textbox
    token: gr.Textbox

    @property
    def inputs(self) -> list:
        return [self.choice, self.url, self.token]

    @property
    def named(self) -> dict[str, Any]:
        """The fields by the names handlers take (``choice``, ``url``, ``token``)."""
        return {"choice": self.choice, "url": self.url, "token": self.token}


def hub_picker(ctx: AppContext) -> HubPicker:
    """Hub choice, its URL and a token field. The token goes to the hub and nowhere else."""
    with gr.Row():
        hubs = [choice("common.hub_local", "Local hub (offline)"), ("huggingface.co", "huggingface.co"),
                choice("common.hub_url", "Hub at a URL")]
        radio = gr.Radio(hubs, value=ctx.default_choice, label=L("common.hub"), scale=2)
        url = gr.Textbox(value=ctx.default_url, label=L("common.hub_url_label"), placeholder="http://host:8808",
                         visible=ctx.default_hub not in ("local", "hf"), scale=2)
        token = gr.Textbox("", label=L("common.token"), type="password", placeholder=L("common.token_placeholder"),
                           scale=2)
    radio.change(lambda c: gr.update(visible=HUB_CHOICES[c] == "url"), radio, url, api_visibility="private")
    return HubPicker(radio, url, token)


def get_hub(choice: str, url: str, token: str) -> Hub:
    """The Hub the picker names, with the token pasted, else the owner's only when the owner asks
    (webui.visitors); a bad choice or URL, or an address a visitor may not use, becomes a message in the UI."""
    kind = HUB_CHOICES.get(choice, choice)
    url = (url or "").strip()
    if kind == "url":
        if not url:
            raise UserError(t("common.enter_hub_url"))
        visitors.check_visitor_url(url)
    owner = visitors.owns_local_hub() if kind == "local" else visitors.is_owner()
    token = (token or "").strip() or None
    if kind == "hf" and not token and (user := visitors.signed_in()):
        token = user[1]  # signed in with Hugging Face: their own token
    return resolve_hub(url if kind == "url" else kind, token=token, as_owner=owner)


def user_error(e: UserError) -> gr.Error:
    """The notice for ``e``. Not printed to the server's log: it is the visitor's mistake, not the app's, and its
    text can echo what they typed (a secret pasted into the wrong field)."""
    return gr.Error(str(e), print_exception=False, title=t("common.error_title"))


def shows_user_errors(fn: Callable) -> Callable:
    """``fn`` with a UserError (a bad file, a bad value, a hub that says no) turned into the message
    every tab shows: a gr.Error notice that fades after Gradio's usual 10 s. Any other exception is a
    bug and keeps its traceback. Generators keep streaming until the error."""
    return within(fn, _user_errors_shown)


@contextlib.contextmanager
def _user_errors_shown(*_args, **_kwargs) -> Iterator[None]:
    try:
        yield
    except UserError as e:
        raise user_error(e) from None


# Clear while app.warm_up imports torch and transformers in the background; events wait for it (waits_for_warm_up).
WARMED = threading.Event()
WARMED.set()


@contextlib.contextmanager
def _warmed(*_args: Any, **_kwargs: Any) -> Iterator[None]:
    WARMED.wait()
    yield


def around_every_event(demo: gr.Blocks, context: Callable[..., contextlib.AbstractContextManager]) -> None:
    """Every (synchronous) event of ``demo`` runs inside ``context`` (common.calls.within), streams included."""
    for block_fn in demo.fns.values():
        if block_fn.fn is not None and not inspect.iscoroutinefunction(block_fn.fn):
            block_fn.fn = within(block_fn.fn, context)


def waits_for_warm_up(demo: gr.Blocks) -> None:
    """Every event of ``demo`` starts once app.warm_up's imports are done: two threads importing one package at once
    (transformers' lazy modules) can fail one of them (Python's import deadlock detection). In CI a BERT prediction
    answered "Error" while a warm-up at the lowest CPU priority was still importing."""
    around_every_event(demo, _warmed)


def show_user_errors(demo: gr.Blocks) -> None:
    """Every event of ``demo`` shows user errors one way (called once the tabs are built)."""
    around_every_event(demo, _user_errors_shown)


def cache_images_atomically() -> None:
    """Gradio (6.31) writes an output image into its cache in place, at a path named by the image's hash: when two
    visitors get the same picture at once (the same example through the same model), one request rewrites the
    file while the other's browser downloads it, and that download ends short. Written whole under a temporary
    name and renamed into place, and not rewritten when already there, a cached image is always complete."""
    import os
    import secrets
    from pathlib import Path

    from gradio import processing_utils as pu

    if getattr(pu.save_pil_to_cache, "atomic", False):
        return

    def save_pil_to_cache(img, cache_dir: str, name: str = "image", format: str = "webp") -> str:
        data = pu.encode_pil_to_bytes(img, format)
        folder = Path(cache_dir) / pu.hash_bytes(data)
        folder.mkdir(exist_ok=True, parents=True)
        path = (folder / f"{name}.{format}").resolve()
        if not path.exists():
            tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        return str(path)

    save_pil_to_cache.atomic = True
    pu.save_pil_to_cache = save_pil_to_cache


def answered(trigger: Callable, fn: Callable, inputs: Any, outputs: Any, **kw: Any) -> Any:
    """``trigger(fn, inputs, outputs, **kw)`` (a button's ``click``) with ``outputs`` blanked first, unqueued: after
    a refused input or a failed run, no earlier answer stays on screen as if it were this one's. Returns the
    answering event (its api name, cancels and ``then`` are the caller's)."""
    many = isinstance(outputs, (list, tuple))
    empty = browser_blanks(list(outputs) if many else [outputs])
    if empty is None:  # a gr.State among them: it lives on the server, and is blanked there
        n = len(outputs) if many else 1
        blank = trigger(lambda: [None] * n if many else None, None, outputs, queue=False, api_visibility="private",
                        show_progress="hidden")
    else:  # blanked in the browser: a round trip to the server for it cost a streamed answer ~0.6 s
        blank = trigger(None, None, outputs, js="() => " + json.dumps(empty if many else empty[0]), queue=False,
                        api_visibility="private", show_progress="hidden")
    return blank.then(fn, inputs, outputs, **kw)


def browser_blanks(outputs: list) -> list | None:
    """Each output's empty value as the page holds it (what the server would send for None: a Label's is {}, a
    Dataframe's its headers and no rows; a bare null crashed gr.Label in the browser), or None when one of them
    cannot be set from the page (a gr.State, kept on the server)."""
    from gradio.data_classes import GradioModel, GradioRootModel

    values = []
    for component in outputs:
        if isinstance(component, gr.State):
            return None
        value = component.postprocess(None)
        values.append(value.model_dump() if isinstance(value, (GradioModel, GradioRootModel)) else value)
    try:
        json.dumps(values)
    except TypeError:
        return None
    return values


STREAM_EVERY_S = 0.1


def throttled(updates: Iterator[Any], every: float = STREAM_EVERY_S) -> Iterator[Any]:
    """``updates`` at most one per ``every`` seconds, and always the last: a model makes hundreds of tokens a
    second, and an update per token (the whole text each time) froze the page and fell behind by seconds."""
    import time

    last, pending, sent = float("-inf"), None, True
    for pending in updates:
        sent = False
        if (now := time.monotonic()) - last >= every:
            last, sent = now, True
            yield pending
    if not sent:
        yield pending

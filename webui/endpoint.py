"""The playground's models over plain HTTP, the way huggingface_hub's InferenceClient calls a hosted model.

    from huggingface_hub import InferenceClient
    client = InferenceClient(base_url="http://127.0.0.1:7860/infer/job/<job id>")
    client.image_classification("cat.png")

Routes (app.py serves them ahead of Gradio's):
    GET  /infer/job/<job id>  or  /infer/hub/<namespace>/<name>   what the model is and how to call it
    POST the same URL                                               one prediction

A model trained here is named by its job; a repo of the app's hub by its id (pulled on first use, as the Pull
button does). Requests and answers are the Inference API's (hf-inference): an image as the request body, or JSON
``{"inputs": <base64 image or text>, "parameters": {...}}``; errors are ``{"error": message}`` with 400 (the
input), 404 (no such model for this caller), 413 (too large) or 503 (busy: retry).

A caller has no page session and so no identity: on a public app every caller is one anonymous visitor (nobody's
jobs; the app's hub without the owner's credentials; a visitor's pull limit), on a private app the owner.
Whatever token a client sends is ignored. Model runs share DLP_MAX_PREDICTIONS slots; the rest wait their turn
in the event loop, not in threads, and more than MAX_WAITING waiting are told to retry.
"""
from __future__ import annotations

import base64
import binascii
import functools
import io
import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from starlette.requests import Request as HttpRequest  # (FastAPI reads the routes' annotations at import)

from common.errors import UserError
from common.i18n import t
from hub.client import HubNotFound, HubUnreachable, check_repo_id
from training.layout import model_marker

from . import visitors

ROUTE = "/infer"
API_VISITOR = "api:anonymous"  # every caller of a public app's endpoint (webui.visitors keys)
MAX_WAITING = 256  # requests waiting for a slot before new ones are told to retry
MAX_PULLED = 512  # repos whose pulled folder is remembered
PULL_FRESH_S = 60  # a hub repo's pulled copy answers this long before the hub is asked for a newer commit


class EndpointError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass
class Request:
    """One call: its inputs (bytes of an image, or what the JSON's "inputs" held) and parameters."""

    inputs: Any
    parameters: dict[str, Any]
    stream: bool = False

    def number(self, name: str, default: float | None, lo: float, hi: float, kind: type = float) -> Any:
        value = self.parameters.get(name)
        if value is None:
            return default
        try:
            value = kind(value)
        except (TypeError, ValueError):
            raise EndpointError(400, f"parameters.{name} must be a number") from None
        if not lo <= value <= hi:
            raise EndpointError(400, f"parameters.{name} must be between {lo} and {hi}")
        return value

    def image(self) -> bytes:
        if isinstance(self.inputs, bytes):
            data = self.inputs
        elif isinstance(self.inputs, str):
            try:
                data = base64.b64decode(self.inputs, validate=True)
            except (binascii.Error, ValueError):
                raise EndpointError(400, "inputs must be an image: the request body, or base64 in "
                                         "{\"inputs\": ...}") from None
        else:
            raise EndpointError(400, "this model takes an image: send it as the request body")
        if not data:
            raise EndpointError(400, "the image is empty")
        return data

    def text(self) -> str:
        if not isinstance(self.inputs, str):
            raise EndpointError(400, "this model takes text: send {\"inputs\": \"...\"} as JSON")
        if not self.inputs.strip():
            raise EndpointError(400, "inputs is empty: enter some text")
        return self.inputs

    def only(self, *names: str) -> None:
        """Parameters this endpoint does not apply are refused, in words InferenceClient understands (for text
        generation it retries without them, with a warning)."""
        unused = [k for k, v in self.parameters.items() if v is not None and k not in names]
        if unused:
            raise EndpointError(400, f"The following `model_kwargs` are not used by the model: {unused}")


# ------------------------------------------------------------------ one function per pipeline
def _softmax_only(req: Request) -> None:
    if req.parameters.get("function_to_apply") not in (None, "softmax"):
        raise EndpointError(400, "function_to_apply: this model's scores are softmax probabilities only")


def image_classification(folder: str, req: Request) -> list[dict]:
    from hub_models.inference import classify, load_classifier

    req.only("top_k", "function_to_apply")
    _softmax_only(req)
    top_k = req.number("top_k", 5, 1, 1000, int)
    image = req.image()
    scores, _ = classify(load_classifier(folder), image, top_k=top_k)
    return [{"label": k, "score": v} for k, v in scores.items()]


def object_detection(folder: str, req: Request) -> list[dict]:
    from hub_models.detection import detect_image, detections, load_cached

    req.only("threshold")
    threshold = req.number("threshold", 0.5, 0.0, 1.0)
    image = req.image()
    return detections(detect_image(load_cached(folder), image), threshold)


def image_segmentation(folder: str, req: Request) -> list[dict]:
    """One mask per class present (semantic segmentation: no score), each a black and white PNG in base64."""
    import numpy as np
    from PIL import Image

    from hub_models.segmentation import load_cached, segment_image

    req.only("subtask", "threshold", "mask_threshold", "overlap_mask_area_threshold")
    if req.parameters.get("subtask") not in (None, "semantic"):
        raise EndpointError(400, "subtask: this model does semantic segmentation only")
    image = req.image()
    model = load_cached(folder)
    mask, _ = segment_image(model, image)
    out = []
    for k in np.unique(mask).tolist():
        png = io.BytesIO()
        Image.fromarray(((mask == k) * 255).astype(np.uint8), "L").save(png, "PNG")
        out.append({"label": model.labels[k], "score": None, "mask": base64.b64encode(png.getvalue()).decode()})
    return out


def text_classification(folder: str, req: Request) -> list[list[dict]]:
    from hub_models.bert import classify_text

    req.only("top_k", "function_to_apply")
    _softmax_only(req)
    top_k = req.number("top_k", None, 1, 1000, int)
    scores, _ = classify_text(folder, req.text())
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])[:top_k]
    return [[{"label": k, "score": v} for k, v in ranked]]


def fill_mask(folder: str, req: Request) -> list[dict]:
    from hub_models.bert import fill_mask_rows

    req.only("top_k")
    return fill_mask_rows(folder, req.text(), req.number("top_k", 5, 1, 100, int))


def translation(folder: str, req: Request) -> list[dict]:
    from hub_models.translation import load_cached, translate

    from .translation import MAX_CHARS  # the Translate tab's bound

    # (src_lang and tgt_lang name the pair of a many-to-many model; a model here translates one way)
    req.only("clean_up_tokenization_spaces", "truncation")
    text = req.text()
    if len(text) > MAX_CHARS:
        raise EndpointError(400, f"the text is {len(text):,} characters; the limit is {MAX_CHARS:,}")
    return [{"translation_text": translate(load_cached(folder), text.strip())["translation"]}]


def text_generation(folder: str, req: Request) -> dict | Iterator[str]:
    """Greedy unless sampling is asked for (do_sample, or a temperature, top_k or top_p), as TGI decides; the
    answer is the new text (return_full_text adds the prompt); ``stream`` answers in server-sent events."""
    from hub_models.textgen import load_cached, stream_tokens

    from .textgen import MAX_NEW_TOKENS, MAX_PROMPT_CHARS  # the Generate tab's bounds

    req.only("max_new_tokens", "do_sample", "temperature", "top_k", "top_p", "seed", "return_full_text", "stop")
    prompt = req.text()
    if len(prompt) > MAX_PROMPT_CHARS:
        raise EndpointError(400, f"the prompt is {len(prompt):,} characters; the limit is {MAX_PROMPT_CHARS:,}")
    p = req.parameters
    sample = bool(p.get("do_sample")) or any(p.get(k) is not None for k in ("temperature", "top_k", "top_p"))
    stop = p.get("stop") or []
    if not isinstance(stop, list) or not all(isinstance(s, str) and s for s in stop):
        raise EndpointError(400, "parameters.stop must be a list of strings")
    made = stream_tokens(load_cached(folder), prompt, req.number("max_new_tokens", 100, 1, MAX_NEW_TOKENS, int),
                         greedy=not sample, temperature=req.number("temperature", 1.0, 1e-4, 100.0),
                         top_k=req.number("top_k", 0, 0, 100_000, int), top_p=req.number("top_p", 1.0, 1e-4, 1.0),
                         seed=req.number("seed", None, 0, 2**63 - 1, int))
    head = prompt if p.get("return_full_text") else ""

    def until_stop() -> Iterator[tuple[int, float, str]]:
        """(token, logprob, the new text so far), up to and with the first stop sequence."""
        for tok, logprob, text in made:
            new = text[len(prompt):]
            if cut := [new.index(s) + len(s) for s in stop if s in new]:
                yield tok, logprob, new[:min(cut)]
                return
            yield tok, logprob, new

    if not req.stream:
        new = ""
        for _, _, new in until_stop():
            pass
        return {"generated_text": head + new}

    def events() -> Iterator[str]:
        shown, n = "", 0
        for n, (tok, logprob, new) in enumerate(until_stop(), 1):
            piece, shown = new[len(shown):], new
            yield _event({"index": n, "token": {"id": tok, "text": piece, "logprob": logprob, "special": False},
                          "generated_text": None, "details": None})
        yield _event({"index": n + 1, "token": {"id": 0, "text": "", "logprob": 0.0, "special": True},
                      "generated_text": head + shown, "details": None})

    return events()


def _event(obj: dict) -> str:
    return f"data:{json.dumps(obj)}\n\n"


PIPELINES: dict[str, Callable[[str, Request], Any]] = {
    "image-classification": image_classification,
    "object-detection": object_detection,
    "image-segmentation": image_segmentation,
    "text-classification": text_classification,
    "fill-mask": fill_mask,
    "text-generation": text_generation,
    "translation": translation,
}
IMAGE_PIPELINES = ("image-classification", "object-detection", "image-segmentation")
CLIENT_METHODS = {tag: tag.replace("-", "_") for tag in PIPELINES}  # InferenceClient's method per pipeline


# ------------------------------------------------------------------ which pipeline a folder serves
_ARCH_SUFFIXES = (("ForImageClassification", "image-classification"), ("ForObjectDetection", "object-detection"),
                  ("ForSemanticSegmentation", "image-segmentation"),
                  ("ForSequenceClassification", "text-classification"),
                  ("ForTokenClassification", "token-classification"), ("ForMaskedLM", "fill-mask"),
                  ("ForCausalLM", "text-generation"), ("LMHeadModel", "text-generation"),
                  ("MTModel", "translation"), ("ForConditionalGeneration", "translation"))


def served_pipeline(folder: Path) -> str:
    """The pipeline tag of a model folder: its card's ``pipeline_tag`` (every model trained here has one), else
    what its config.json names: one of our classes, a timm model or a transformers architecture. Kept while the
    two files are unchanged: parsing the card's YAML took longer than a LeNet's answer."""
    stamps = []
    for name in ("README.md", "config.json"):
        try:
            st = (folder / name).stat()
            stamps.append((st.st_mtime_ns, st.st_size, st.st_ino))
        except OSError:
            stamps.append(None)
    return _pipeline_of(str(folder), tuple(stamps))


@functools.lru_cache(maxsize=256)
def _pipeline_of(path: str, _stamps: tuple) -> str:
    from hub.card import split_card
    from hub_models import catalog

    folder = Path(path)
    try:
        tag = split_card((folder / "README.md").read_text(encoding="utf-8"))[0].get("pipeline_tag")
        if isinstance(tag, str) and tag:
            return tag
    except (OSError, ValueError, UnicodeDecodeError):
        pass
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        config = {}
    if not isinstance(config, dict):
        config = {}
    families = ((catalog.CLASSIFIERS, "image-classification"), (catalog.DETECTORS, "object-detection"),
                (catalog.SEGMENTERS, "image-segmentation"), (catalog.LANGUAGE_MODELS, "text-generation"),
                (catalog.TRANSLATORS, "translation"))
    if name := config.get("_class_name"):
        for registry, tag in families:
            if any(entry.cls.endswith(f":{name}") for entry in registry.values()):
                return tag
    if "architecture" in config and "pretrained_cfg" in config:  # timm's layout
        return "image-classification"
    arch = (config.get("architectures") or [""])[0]
    return next((tag for suffix, tag in _ARCH_SUFFIXES if arch.endswith(suffix)), "unknown")


# ------------------------------------------------------------------ the Predict tabs' "Call it from code"
_EXAMPLE_INPUT = {"image-classification": '"photo.jpg"', "object-detection": '"photo.jpg"',
                  "image-segmentation": '"photo.jpg"', "text-classification": '"The soup was wonderful."',
                  "fill-mask": '"Paris is the [MASK] of France."', "text-generation": '"The ", max_new_tokens=100',
                  "translation": '"She is happy ."'}


def serves(task: str) -> bool:
    """Whether some model of ``task`` answers through the endpoint (training.tasks declares its pipelines)."""
    from training.tasks import get_task

    return any(tag in PIPELINES for tag in get_task(task).pipelines)


def origin(headers: Any) -> str:
    """The app's address as the caller's browser sees it (behind a proxy: what it forwarded)."""
    host = headers.get("x-forwarded-host") or headers.get("host") or "127.0.0.1:7860"
    return f"{headers.get('x-forwarded-proto') or 'http'}://{host}"


def picked_ref(runner: Any, default_hub: str, value: str | None) -> tuple[str | None, Path | None, str]:
    """(job/<id> or hub/<repo>, its folder, "") for a model picker's value, else (None, None, why the endpoint
    cannot serve it to whoever would call it): nothing picked, a job on a public app (callers are anonymous), a
    pull from another hub."""
    from hub.client import resolve_hub

    from .jobs import JOB_KEY, is_model_folder, model_path

    if not value or not is_model_folder(runner, str(folder := model_path(runner, value))):
        return None, None, t("endpoint.public_job" if visitors.policy.public else "endpoint.pick_model")
    if value.startswith(JOB_KEY):
        return (None, None, t("endpoint.public_job")) if visitors.policy.public else \
            ("job/" + value.removeprefix(JOB_KEY), folder, "")
    try:
        done = json.loads((folder / ".complete").read_text())
        if done.get("endpoint") == resolve_hub(default_hub, as_owner=False).endpoint:
            return f"hub/{done['repo_id']}", folder, ""
    except (OSError, ValueError, KeyError, UserError):
        pass
    return None, None, t("endpoint.other_hub")


def call_from_code(runner: Any, default_hub: str, value: str | None, base: str) -> str:
    """Markdown for the Predict side's "Call it from code": how to call the picked model from Python at ``base``
    (the app's address), or why it cannot be."""
    ref, folder, why = picked_ref(runner, default_hub, value)
    if folder is None or ref is None:
        return why
    tag = served_pipeline(folder)
    if tag not in PIPELINES:
        return t("endpoint.not_served", tag=tag, served=", ".join(PIPELINES))
    return (f"```python\nfrom huggingface_hub import InferenceClient\n\n"
            f"client = InferenceClient(base_url=\"{base}{ROUTE}/{ref}\")\n"
            f"print(client.{CLIENT_METHODS[tag]}({_EXAMPLE_INPUT[tag]}))\n```\n"
            + t("endpoint.get_and_curl"))


# ------------------------------------------------------------------ the routes
class Endpoint:
    """The endpoint of one app: its job runner, its hub, and the slots model runs share."""

    def __init__(self, runner: Any, default_hub: str):
        import anyio

        self.runner = runner
        self.default_hub = default_hub
        self.slots = anyio.CapacityLimiter(visitors.policy.max_predictions)
        # Bounded whatever callers ask for: a pool of locks by the repo's hash, and the last MAX_PULLED pulls.
        self._pulled: OrderedDict[tuple, tuple[Path, float]] = OrderedDict()
        self._pull_locks = [threading.Lock() for _ in range(64)]
        self._lock = threading.Lock()  # for _pulled itself

    # -------- who and which model
    def caller(self) -> visitors.Visitor:
        return visitors.Visitor(owner=True, key=visitors.OWNER) if not visitors.policy.public \
            else visitors.Visitor(owner=False, key=API_VISITOR)

    def job_folder(self, job_id: str) -> Path:
        from .jobs import model_dir, visible_job

        try:
            job = visible_job(self.runner, job_id)
        except (KeyError, ValueError, OSError):
            raise EndpointError(404, f"No job {job_id!r} here" + (
                " (on a public app the endpoint serves the app's hub: push the model, then call "
                f"{ROUTE}/hub/<namespace>/<name>)" if visitors.policy.public else "")) from None
        folder = model_dir(self.runner, job.id)
        if model_marker(folder) is None:
            raise EndpointError(404, f"Job {job_id} has no model yet ({job.status})")
        return folder

    def hub_folder(self, repo_id: str) -> Path:
        from .common import get_hub

        try:
            check_repo_id(repo_id)
        except UserError as e:
            raise EndpointError(400, str(e)) from None
        url = self.default_hub.startswith(("http://", "https://"))
        hub = get_hub("url" if url else self.default_hub, self.default_hub if url else "", "")
        key = (hub.endpoint, repo_id, visitors.current_key())
        # One pull of a repo at a time; the callers behind it get its folder.
        with self._pull_locks[hash(key) % len(self._pull_locks)]:
            with self._lock:
                folder, at = self._pulled.get(key, (None, 0.0))
            if folder is None or time.monotonic() - at > PULL_FRESH_S or not folder.exists():
                try:
                    folder = visitors.pull(repo_id, hub)
                except HubNotFound:  # (the hub's own words speak of tokens, which the endpoint ignores)
                    raise EndpointError(404, f"No repo {repo_id!r} on this app's hub (private repos are not "
                                             "served here)") from None
                except UserError as e:
                    raise EndpointError(502 if isinstance(e, HubUnreachable) else 400, str(e)) from None
                with self._lock:
                    self._pulled[key] = (folder, time.monotonic())
                    while len(self._pulled) > MAX_PULLED:
                        self._pulled.popitem(last=False)
        return folder

    # -------- one request
    def answer(self, folder_of: Callable[[], Path], ref: str, method: str, body: bytes, content_type: str):
        """GET: what the model is; POST: its answer (a JSON-able value, or an iterator of server-sent events).
        Runs in a worker thread, as the caller, once app.warm_up's imports are done (webui.common.WARMED)."""
        from .common import WARMED

        WARMED.wait()
        with visitors.acting_as(self.caller()):
            folder = folder_of()
            tag = served_pipeline(folder)
            if method == "GET":
                return self.describe(ref, tag)
            if tag not in PIPELINES:
                raise EndpointError(400, f"{ref} is a {tag} model: the endpoint serves "
                                         f"{', '.join(PIPELINES)}")
            return PIPELINES[tag](str(folder), parse(body, content_type, tag))

    def describe(self, ref: str, tag: str) -> dict:
        served = tag in PIPELINES
        return {"model": ref, "pipeline_tag": tag, "served": served,
                "usage": (f"InferenceClient(base_url=URL).{CLIENT_METHODS[tag]}("
                          f"{'image' if tag in IMAGE_PIPELINES else 'text'})") if served else None}

    def routes(self) -> list:
        from fastapi.routing import APIRoute

        async def job(job_id: str, request: HttpRequest):
            return await self.respond(request, lambda: self.job_folder(job_id), f"job/{job_id}")

        async def hub(namespace: str, name: str, request: HttpRequest):
            repo_id = f"{namespace}/{name}"
            return await self.respond(request, lambda: self.hub_folder(repo_id), f"hub/{repo_id}")

        both = ["GET", "POST"]
        return [APIRoute(ROUTE + "/job/{job_id}", job, methods=both, include_in_schema=False),
                APIRoute(ROUTE + "/hub/{namespace}/{name}", hub, methods=both, include_in_schema=False)]

    async def respond(self, request, folder_of: Callable[[], Path], ref: str):
        import anyio
        from fastapi.responses import JSONResponse, StreamingResponse

        try:
            if self.slots.statistics().tasks_waiting >= MAX_WAITING:
                raise EndpointError(503, "Busy: too many requests are waiting. Retry in a moment.")
            body = await read_body(request, visitors.policy.max_upload_mb * 2**20)
            result = await anyio.to_thread.run_sync(
                self.answer, folder_of, ref, request.method, body, request.headers.get("content-type", ""),
                limiter=self.slots)
        except EndpointError as e:
            headers = {"Retry-After": "1"} if e.status == 503 else None
            return JSONResponse({"error": str(e)}, status_code=e.status, headers=headers)
        except UserError as e:  # the input, as the tabs say it (an image that is not one, a text too long...)
            return JSONResponse({"error": str(e)}, status_code=400)
        if isinstance(result, Iterator):
            return StreamingResponse(self.paced(result), media_type="text/event-stream")
        return JSONResponse(result)

    async def paced(self, events: Iterator[str]):
        """A stream's events, each made in a slot: streams and single answers take turns."""
        import anyio

        done = object()
        while (event := await anyio.to_thread.run_sync(next, events, done, limiter=self.slots)) is not done:
            yield event


async def read_body(request, limit: int) -> bytes:
    """The body, refused (413) as soon as it is over ``limit`` bytes."""
    too_large = EndpointError(413, f"The request is over {limit // 2**20} MB")
    try:
        if int(request.headers.get("content-length") or 0) > limit:
            raise too_large
    except ValueError:
        raise EndpointError(400, "bad Content-Length") from None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def parse(body: bytes, content_type: str, tag: str) -> Request:
    """The Inference API's payload: JSON ``{"inputs", "parameters", "stream"}``, or an image as the whole body."""
    if "json" in content_type or body[:1] == b"{":
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise EndpointError(400, "the body is not JSON") from None
        if not isinstance(data, dict) or "inputs" not in data:
            raise EndpointError(400, 'send {"inputs": ..., "parameters": {...}}')
        params = data.get("parameters") or {}
        if not isinstance(params, dict):
            raise EndpointError(400, "parameters must be an object")
        return Request(data["inputs"], params, stream=bool(data.get("stream")))
    if tag not in IMAGE_PIPELINES:
        raise EndpointError(400, 'this model takes text: send {"inputs": "..."} as JSON')
    return Request(body, {})

"""Model cards: the Hub's YAML metadata plus a readable body.

The metadata (library_name, pipeline_tag, tags, datasets, base_model and metrics in
``model-index`` form) is what the Hub indexes and what the Hub tab shows; the body
says what the model is, how it was trained, how well it does, and how to load it, in the language of the page that
started the job (common.i18n: DLP_LANG in a job's process; English from the CLI).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from common.i18n import t


@dataclass
class CardInfo:
    """Everything a trainer knows about its result that a card should say."""

    repo_id: str
    title: str
    summary: str  # one paragraph: what the model is and what it does
    pipeline_tag: str  # e.g. "image-classification"
    library_name: str = "pytorch"
    task_name: str = ""  # human name of the task, e.g. "Image Classification"
    tags: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)
    dataset_name: str = ""  # human name of the evaluation data
    base_model: str | None = None
    license: str = "mit"
    metrics: dict[str, float] = field(default_factory=dict)  # name -> value on the validation split
    training: dict[str, Any] = field(default_factory=dict)  # the training configuration
    usage: str = ""  # a few lines of Python that load and run the model


def render_card(info: CardInfo) -> str:
    """README.md text for ``info``: YAML front matter then markdown."""
    from huggingface_hub import EvalResult, ModelCardData

    dataset_id = info.datasets[0] if info.datasets else "custom"
    evals = [EvalResult(task_type=info.pipeline_tag, task_name=info.task_name or None, dataset_type=dataset_id,
                        dataset_name=info.dataset_name or dataset_id, dataset_split="validation",
                        metric_type=name, metric_name=name, metric_value=float(value))
             for name, value in info.metrics.items()]
    data = ModelCardData(
        library_name=info.library_name, pipeline_tag=info.pipeline_tag, license=info.license,
        tags=list(dict.fromkeys(["dl-playground", *info.tags])), datasets=info.datasets or None,
        base_model=info.base_model, model_name=info.repo_id.split("/")[-1], eval_results=evals or None)
    lines = [f"---\n{data.to_yaml()}\n---", "", f"# {info.title}", "", info.summary.strip(), ""]
    if info.metrics:
        lines += [f"## {t('card.results')}", "", t("card.on_split", data=info.dataset_name or dataset_id), "",
                  f"| {t('card.metric')} | {t('card.value')} |", "|---|---|"]
        lines += [f"| {k} | {v:.4g} |" for k, v in info.metrics.items()]
        lines.append("")
    if training := public_settings(info.training):
        lines += [f"## {t('card.training')}", "", f"| {t('card.setting')} | {t('card.value')} |", "|---|---|"]
        lines += [f"| {k} | {_cell(v)} |" for k, v in training.items()]
        lines.append("")
    if info.usage:
        lines += [f"## {t('card.usage')}", "", "```python", info.usage.strip(), "```", ""]
    lines += [f"## {t('card.about')}", "", t("card.about_text"), ""]
    return "\n".join(lines)


# Settings a card leaves out: where the run wrote (a server's path), how it pushed and resumed.
_NOT_IN_CARD = {"output_dir", "hub", "push_to_hub", "resume", "hub_strategy", "report_to", "run_group"}


def public_settings(training: dict[str, Any]) -> dict[str, Any]:
    """The training settings a card shows: not the run's own plumbing, and a local path as its last part only (an
    upload or a base model folder lives under the app's data folder, which a card's readers have no business
    seeing)."""
    out = {}
    for k, v in training.items():
        if k in _NOT_IN_CARD:
            continue
        out[k] = Path(v).name if isinstance(v, str) and v.startswith(("/", "~")) else v
    return out


def _cell(v: Any) -> str:
    text = v if isinstance(v, str) else json.dumps(v)
    return text.replace("|", "\\|").replace("\n", " ")


def write_card(folder: str | Path, info: CardInfo) -> Path:
    path = Path(folder) / "README.md"
    path.write_text(render_card(info), encoding="utf-8")
    return path


def front_matter(text: str) -> tuple[str, str | None] | None:
    """(YAML text, markdown body) of a README; body None when the front matter is never closed,
    None when there is no front matter at all."""
    if not text.startswith("---"):
        return None
    end = text.find("\n---", 3)
    if end < 0:
        return text[3:], None
    return text[3:end], text[end + 4:].lstrip("-").lstrip("\n")


# Card metadata is read by the hub for every listing and written out as JSON: bounded before it is stored or served.
MAX_METADATA_BYTES = 64 * 1024
MAX_METADATA_DEPTH = 32


class _BoundedLoader(yaml.SafeLoader):
    """yaml.safe_load without aliases and with bounded nesting. An alias re-uses a node, and JSON writes every use
    out in full: a 439-byte card of nested aliases made one repo's info 203 MB. Deep nesting would exhaust the
    recursion of the composer."""

    _depth = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise yaml.YAMLError("aliases (*name) are not allowed in card metadata")  # i18n: kept
        self._depth += 1
        try:
            if self._depth > MAX_METADATA_DEPTH:
                raise yaml.YAMLError(f"card metadata nests deeper than {MAX_METADATA_DEPTH} levels")  # i18n: kept
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def load_metadata(yaml_text: str) -> Any:
    """The YAML of a card's front matter, within the bounds above (yaml.YAMLError when not)."""
    if len(yaml_text.encode("utf-8", errors="replace")) > MAX_METADATA_BYTES:
        raise yaml.YAMLError(f"card metadata is over {MAX_METADATA_BYTES // 1024} KB")  # i18n: kept
    return yaml.load(yaml_text, Loader=_BoundedLoader)  # noqa: S506 (a SafeLoader)


def split_card(text: str) -> tuple[dict[str, Any], str]:
    """(metadata, markdown body) of a README; a card without front matter, or with metadata out of bounds, has
    empty metadata."""
    parts = front_matter(text)
    if parts is None or parts[1] is None:
        return {}, text
    try:
        meta = load_metadata(parts[0]) or {}
    except yaml.YAMLError:
        return {}, text
    return (meta if isinstance(meta, dict) else {}), parts[1]


def card_errors(text: str) -> list[str]:
    """Why a README's front matter would be rejected (the Hub refuses cards it cannot index): the hub server's
    answer, in English as the Hub's own (as are this module's YAML errors)."""
    parts = front_matter(text)
    if parts is None:
        return []
    try:
        meta = load_metadata(parts[0])
    except yaml.YAMLError as e:
        return [f"Invalid YAML in README front matter: {e}"]  # i18n: kept
    return [] if meta is None or isinstance(meta, dict) else [
        "The README front matter must be a YAML mapping"]  # i18n: kept


def card_metrics(meta: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows (task, dataset, split, metric, value) from a card's ``model-index``."""
    rows = []
    for model in meta.get("model-index") or []:
        for result in (model or {}).get("results") or []:
            task = (result.get("task") or {}).get("type", "")
            ds = result.get("dataset") or {}
            for m in result.get("metrics") or []:
                rows.append({"task": task, "dataset": ds.get("name") or ds.get("type", ""),
                             "split": ds.get("split", ""), "metric": m.get("name") or m.get("type", ""),
                             "value": m.get("value")})
    return rows

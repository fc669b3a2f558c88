"""Labelled text for the BERT tab: built-in samples, uploaded CSV/TSV/JSONL files, hub dataset repos; the
tables and text files of the text tabs (read_table, the cheap checks of an upload, keep_upload).

The built-in samples are generated here from word lists written for this project (MIT, like the
code), so they work offline and their validation splits use words the training split never shows:
a held-out adjective or name is only classified right if the pre-trained encoder already knows
what it is like. That is the point of fine-tuning that the course makes.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common.i18n import t
from hub.client import local_path

from .config import TrainingError

MAX_FILE_BYTES = 200 * 1024**2
MAX_CORPUS_BYTES = 50 * 1024**2  # a language model's corpus is read whole into memory
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")

# ------------------------------------------------------------ built-in samples
# The samples are English data the models read, not the page's words: every language trains on the same rows.
# i18n: kept (sample data)
_POS = {"train": "great excellent wonderful delightful fantastic lovely brilliant enjoyable charming impressive "
                 "pleasant outstanding terrific superb".split(),
        "val": "amazing splendid fabulous magnificent exquisite marvelous".split()}
# i18n: kept (sample data)
_NEG = {"train": "terrible awful horrible dreadful boring disappointing poor lousy mediocre unpleasant dull annoying "
                 "bland miserable".split(),
        "val": "atrocious abysmal dismal tedious appalling pathetic".split()}
# i18n: kept (sample data)
_SUBJECTS = ("the movie", "the food", "the service", "this book", "the hotel room", "the concert", "the staff",
             "our trip", "the camera", "the game", "the story", "the coffee", "the museum", "the lecture",
             "the new album", "the pizza", "the flight", "the show")
# i18n: kept (sample data)
_NEGATED = ("{S} was not {a}.", "I would not call {s} {a}.", "{S} was far from {a}.")  # flip the label
# i18n: kept (sample data)
_TEMPLATES = ("{S} was {a}.", "I thought {s} was {a}.", "Honestly, {s} was {a}.", "{S} turned out to be {a}.",
              "Everything about {s} felt {a}.", "We found {s} {a}.", "In my opinion {s} is {a}.",
              "My friends said {s} was {a}, and they were right.")

_PEOPLE = {"train": ["Alice Johnson", "Bob", "Maria Garcia", "Chen Wei", "Fatima", "John Smith", "Emma", "Liam Brown",
                     "Olivia", "Noah Wilson", "Sofia Rossi", "Lucas"],
           "val": ["Hannah Schmidt", "Kenji Tanaka", "Amara", "Diego Lopez", "Ingrid", "Ravi Patel"]}
# i18n: kept (sample data)
_PLACES = {"train": ["Paris", "New York", "Berlin", "Tokyo", "Cairo", "Sydney", "Toronto", "Madrid", "Rio de Janeiro",
                     "Mumbai", "Oslo", "Lima"],
           "val": ["Nairobi", "Buenos Aires", "Vienna", "Seoul", "Hong Kong", "Dublin"]}
# i18n: kept (sample data)
_ORGS = {"train": ["Google", "the United Nations", "Siemens", "Toyota", "Oxford University", "the Red Cross",
                   "Microsoft", "Deutsche Bank", "Nestle", "NASA"],
         "val": ["Samsung", "the World Bank", "Harvard University", "Airbus", "UNICEF", "Volvo"]}
# i18n: kept (sample data)
_SENTENCES = ("{PER} flew from {LOC} to {LOC2} on Monday .", "{PER} joined {ORG} in {LOC} last year .",
              "{ORG} opened a new office in {LOC} .", "Yesterday {PER} met {PER2} at the {ORG} headquarters .",
              "{PER} works for {ORG} .", "After the meeting in {LOC} , {PER} called {PER2} .",
              "{ORG} and {ORG2} signed a deal in {LOC} .", "{PER} moved to {LOC} to study .")

# i18n: not shown (the tab shows its own words: bert.*)
BUILTIN = {
    "sentiment": "movie/food/product reviews, positive or negative, some negated (one sentence)",
    "sentiment-pairs": "two reviews: does the second agree with the first, contradict it, or talk about "
                       "something else? (sentence pairs, NLI-style)",
    "entities": "sentences tagged with people, places and organisations (BIO tags, token classification)",
}
BUILTIN_KIND = {"sentiment": "sequence", "sentiment-pairs": "sequence", "entities": "token"}


@dataclass
class TextData:
    """Rows ready for tokenising: text (str, or list of words for tagging), optional pair, label(s)."""

    kind: str  # "sequence" or "token"
    train: list[dict[str, Any]]
    val: list[dict[str, Any]]
    labels: list[str]
    name: str
    notes: list[str] = field(default_factory=list)


def _review(rng: random.Random, subject: str, adj: str) -> str:
    t = rng.choice(_TEMPLATES)
    return t.format(S=subject[0].upper() + subject[1:], s=subject, a=adj)


def builtin_sample(name: str, seed: int = 0) -> TextData:
    """One of :data:`BUILTIN`; the validation split uses held-out words."""
    rng = random.Random(seed)
    if name == "sentiment":
        splits = {}
        for split, n in (("train", 480), ("val", 160)):
            rows = []
            for i in range(n):
                label = i % 2
                if rng.random() < 0.2:  # a negated opposite: "not awful" is positive; word-spotting fails here
                    template = rng.choice(_NEGATED)
                    subject = rng.choice(_SUBJECTS)
                    text = template.format(S=subject[0].upper() + subject[1:], s=subject,
                                           a=rng.choice((_POS, _NEG)[label][split]))
                else:
                    text = _review(rng, rng.choice(_SUBJECTS), rng.choice((_NEG, _POS)[label][split]))
                rows.append({"text": text, "label": ("negative", "positive")[label]})
            rng.shuffle(rows)
            splits[split] = rows
        return TextData("sequence", splits["train"], splits["val"], ["negative", "positive"], name)
    if name == "sentiment-pairs":
        labels = ["entailment", "contradiction", "neutral"]
        splits = {}
        for split, n in (("train", 600), ("val", 180)):
            rows = []
            for i in range(n):
                label = labels[i % 3]
                pol = rng.randrange(2)
                subject = rng.choice(_SUBJECTS)
                first = _review(rng, subject, rng.choice((_NEG, _POS)[pol][split]))
                other = rng.choice([s for s in _SUBJECTS if s != subject]) if label == "neutral" else subject
                pol2 = 1 - pol if label == "contradiction" else pol
                rows.append({"text": first, "text_pair": _review(rng, other, rng.choice((_NEG, _POS)[pol2][split])),
                             "label": label})
            rng.shuffle(rows)
            splits[split] = rows
        return TextData("sequence", splits["train"], splits["val"], labels, name)
    if name == "entities":
        tags = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]
        splits = {}
        for split, n in (("train", 480), ("val", 160)):
            rows = []
            for _ in range(n):
                fill = {"PER": rng.sample(_PEOPLE[split], 2), "LOC": rng.sample(_PLACES[split], 2),
                        "ORG": rng.sample(_ORGS[split], 2)}
                words, word_tags = [], []
                for piece in rng.choice(_SENTENCES).split():
                    m = re.fullmatch(r"\{(PER|LOC|ORG)(2?)\}", piece)
                    if not m:
                        words.append(piece)
                        word_tags.append("O")
                        continue
                    entity = fill[m.group(1)][1 if m.group(2) else 0].split()
                    words += entity
                    word_tags += [f"B-{m.group(1)}"] + [f"I-{m.group(1)}"] * (len(entity) - 1)
                rows.append({"text": words, "label": word_tags})
            splits[split] = rows
        return TextData("token", splits["train"], splits["val"], tags, name)
    raise TrainingError(t("trainer.no_builtin_sample", name=name, choices=", ".join(BUILTIN)))


# ------------------------------------------------------------------ user data
TEXT_COLUMNS = ("text", "sentence", "sentence1", "premise", "question", "tokens", "words")
PAIR_COLUMNS = ("text_pair", "sentence2", "hypothesis")
LABEL_COLUMNS = ("label", "labels", "ner_tags", "tags", "class", "category")
HEAD_ROWS = 20  # rows read to learn a table's columns


def read_table(spec: str, hub_spec: str, nrows: int | None = None):
    """A pandas DataFrame from a .csv/.tsv/.jsonl/.json file (its first ``nrows`` rows if given; a .json
    array is read whole), or a dataset repo id pulled from ``hub_spec``.

    Class-label columns of a hub dataset (ints with names) come back as their names.
    """
    import pandas as pd

    path = local_path(spec)
    if path.is_file():
        if path.stat().st_size == 0:
            raise TrainingError(t("trainer.file_empty", name=path.name))
        if path.stat().st_size > MAX_FILE_BYTES:
            raise TrainingError(t("trainer.file_too_big", name=path.name, mb=MAX_FILE_BYTES // 1024**2))
        suffix = path.suffix.lower()
        try:
            if suffix in (".csv", ".tsv", ".txt"):
                df = pd.read_csv(path, sep="\t" if suffix != ".csv" else ",", dtype=str, keep_default_na=False,
                                 nrows=nrows)
            elif suffix in (".jsonl", ".json"):
                lines = suffix == ".jsonl"
                df = pd.read_json(path, lines=lines, dtype=False, nrows=nrows if lines else None)
            else:
                raise TrainingError(t("trainer.table_kind", name=path.name))
        except TrainingError:
            raise
        except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as e:
            raise TrainingError(t("trainer.table_unreadable", name=path.name, kind=suffix[1:].upper(),
                                  reason=str(e).splitlines()[0])) from None
        return df
    if path.exists() or not _REPO_ID.match(spec):
        raise TrainingError(t("trainer.no_table_dataset", spec=spec, choices=", ".join(BUILTIN)))
    from hub.client import HubActionError, pull, resolve_hub

    try:
        folder = pull(spec, resolve_hub(hub_spec), repo_type="dataset")
    except HubActionError as e:
        raise TrainingError(t("trainer.dataset_error", spec=spec, reason=e)) from None
    import datasets

    try:
        ds = datasets.load_dataset(str(folder), split="train")
    except Exception as e:  # datasets raises many kinds; all mean "cannot read it"
        raise TrainingError(t("trainer.dataset_unreadable", spec=spec, reason=str(e).splitlines()[0])) from None
    df = ds.to_pandas()
    for col, feat in ds.features.items():
        if isinstance(feat, datasets.ClassLabel):
            df[col] = [feat.names[i] for i in df[col]]
        elif isinstance(feat, (datasets.Sequence, datasets.List)) and isinstance(
                getattr(feat, "feature", None), datasets.ClassLabel):
            names = feat.feature.names
            df[col] = [[names[i] for i in row] for row in df[col]]
    return df


def table_columns(path: str | Path) -> list[str]:
    """The columns of a table file, read from its first rows: the cheap check the web process makes of an
    upload (type, size, a readable header) before a job reads it whole."""
    return [str(c) for c in read_table(str(path), "local", nrows=HEAD_ROWS).columns]


def _pick(columns: list[str], wanted: str, candidates: tuple[str, ...], what: str, required: bool = True) -> str | None:
    if wanted:
        if wanted not in columns:
            raise TrainingError(t("trainer.no_such_column", column=wanted, what=what, columns=", ".join(columns)))
        return wanted
    found = next((c for c in candidates if c in columns), None)
    if found is None and required:
        raise TrainingError(t("trainer.which_column", what=what, columns=", ".join(columns)))
    return found


def _words(value: Any, row: int) -> list[str]:
    if isinstance(value, str):
        return value.split()
    try:
        return [str(v) for v in value]
    except TypeError:
        raise TrainingError(t("trainer.not_words", row=row, value=value)) from None


def pick_columns(columns: list[str], kind: str, *, text_column: str = "", pair_column: str = "",
                 label_column: str = "") -> tuple[str, str, str | None]:
    """(text, label, pair or None) columns of a table for the task ``kind`` ("sequence" or "token"): the ones
    named, or guessed from the usual names."""
    text_col = _pick(columns, text_column, TEXT_COLUMNS, t("trainer.what_text"))
    label_col = _pick(columns, label_column, LABEL_COLUMNS, t("trainer.what_labels"))
    pair_col = _pick(columns, pair_column, PAIR_COLUMNS, t("trainer.what_pair"), required=False) if kind == "sequence" \
        else None
    return text_col, label_col, pair_col  # type: ignore[return-value]


def table_data(spec: str, kind: str, hub_spec: str, *, text_column: str = "", pair_column: str = "",
               label_column: str = "", val_split: float = 0.2, seed: int = 0) -> TextData:
    """Rows of a user's table checked for the task ``kind`` ("sequence" or "token"), split train/validation."""
    df = read_table(spec, hub_spec)
    text_col, label_col, pair_col = pick_columns([str(c) for c in df.columns], kind, text_column=text_column,
                                                 pair_column=pair_column, label_column=label_column)
    rows = []
    for i, rec in enumerate(df.to_dict("records"), start=1):
        text, label = rec[text_col], rec[label_col]
        if kind == "token":
            words, tags = _words(text, i), _words(label, i)
            if len(words) != len(tags):
                raise TrainingError(t("trainer.words_and_tags", row=i, words=len(words), tags=len(tags)))
            if words:
                rows.append({"text": words, "label": tags})
            continue
        if not isinstance(text, str) or not text.strip():
            continue  # an empty review teaches nothing; counted below
        row = {"text": text, "label": str(label)}
        if pair_col:
            pair = rec[pair_col]
            if not isinstance(pair, str) or not pair.strip():
                raise TrainingError(t("trainer.no_second_sentence", row=i, column=pair_col))
            row["text_pair"] = pair
        rows.append(row)
    notes = [t("trainer.skipped_empty_rows", count=len(df) - len(rows))] if len(rows) < len(df) else []
    if len(rows) < 4:
        raise TrainingError(t("trainer.too_few_rows", count=len(rows)))
    labels = sorted({t for r in rows for t in (r["label"] if kind == "token" else [r["label"]])})
    if len(labels) < 2:
        raise TrainingError(t("trainer.one_label", column=label_col, label=labels[0]))
    rng = random.Random(seed)
    rng.shuffle(rows)
    n_val = max(1, int(len(rows) * val_split))
    name = Path(spec).name if Path(spec).exists() else spec
    notes.append(f"columns: text={text_col}" + (f", pair={pair_col}" if pair_col else "") + f", labels={label_col}")
    return TextData(kind, rows[n_val:], rows[:n_val], labels, name, notes)


def check_text_file(path: str | Path) -> None:
    """A corpus file's size and encoding (its first megabyte): the cheap check of an upload."""
    path = Path(path)
    if path.stat().st_size > MAX_CORPUS_BYTES:
        raise TrainingError(t("trainer.file_too_big", name=path.name, mb=MAX_CORPUS_BYTES // 1024**2))
    with path.open("rb") as f:
        head = f.read(1 << 20)
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.reason != "unexpected end of data" or len(head) < 1 << 20:  # i18n: not shown (a character cut at the 1 MB mark)
            raise TrainingError(t("trainer.not_utf8", name=path.name)) from None


def keep_upload(path: str | Path, uploads_dir: str | Path) -> Path:
    """Copy an uploaded table into the app's folder, named by its content hash, so a queued job (or one
    started after an app restart) still finds it; the same upload is stored once."""
    import hashlib
    import shutil

    src = Path(path)
    if src.stat().st_size > MAX_FILE_BYTES:
        raise TrainingError(t("trainer.file_too_big", name=src.name, mb=MAX_FILE_BYTES // 1024**2))
    h = hashlib.sha256(src.read_bytes()).hexdigest()[:16]
    name = re.sub(r"[^A-Za-z0-9._-]", "_", src.name)[-80:] or "data.csv"
    dest = Path(uploads_dir) / h / name
    if not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".partial")
        shutil.copyfile(src, tmp)
        tmp.replace(dest)
    return dest

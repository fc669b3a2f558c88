"""BERT fine-tuning against a linear probe, on validation sentences whose words training never shows.

A linear probe (Alain & Bengio, 2016, https://arxiv.org/abs/1610.01644) is a logistic regression on the frozen
encoder's mean-pooled features (the pooling all-MiniLM-L6-v2 was trained with). Fine-tuning can distort pretrained
features and do worse than the probe on new words (Kumar et al., 2022, https://arxiv.org/abs/2202.10054): this
compares the two on the built-in sentiment sample and on a review table written here with its own held-out
adjectives, for the recipes given on the command line.

    python bench/bert_probe.py [--epochs N] [--rows 400 60 30] [--seeds 3]
"""
from __future__ import annotations

import argparse
import csv
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# A table as a user might write it: its train and validation splits praise and blame with different words.
TRAIN_WORDS = {"positive": ["good", "great", "lovely", "tasty", "friendly", "pleasant", "excellent", "fine"],
               "negative": ["bad", "awful", "rude", "bland", "cold", "terrible", "poor", "dirty"]}
VAL_WORDS = {"positive": ["superb", "delightful", "wonderful", "marvellous", "splendid", "heavenly"],
             "negative": ["dreadful", "disgusting", "horrible", "appalling", "miserable", "atrocious"]}
THINGS = ["the soup", "our waiter", "the bread", "the room", "the coffee", "the staff", "the view", "the pasta",
          "the music", "the dessert", "the wine", "the service"]
FRAMES = ["{thing} was {word}.", "I found {thing} {word}.", "Honestly, {thing} was {word}!",
          "{thing} seemed {word} to us.", "We thought {thing} was really {word}."]


def review_table(folder: Path, n_train: int, seed: int = 0) -> tuple[Path, Path]:
    """reviews.csv (``n_train`` rows to train on) and reviews-val.csv (120 rows whose adjectives reviews.csv never
    uses)."""
    rng = random.Random(seed)

    def rows(words: dict[str, list[str]], n: int) -> list[tuple[str, str]]:
        out = []
        for _ in range(n):
            label = rng.choice(["positive", "negative"])
            text = rng.choice(FRAMES).format(thing=rng.choice(THINGS), word=rng.choice(words[label]))
            out.append((text[0].upper() + text[1:], label))
        return out

    path = folder / "reviews.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        w.writerows(rows(TRAIN_WORDS, n_train))
    val = folder / "reviews-val.csv"
    with val.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        w.writerows(rows(VAL_WORDS, 120))
    return path, val


def mean_pooled(folder: Path, texts: list[str]):
    import torch
    import transformers

    tok = transformers.AutoTokenizer.from_pretrained(str(folder))
    model = transformers.AutoModel.from_pretrained(str(folder)).eval()
    feats = []
    with torch.no_grad():
        for i in range(0, len(texts), 64):
            enc = tok(texts[i:i + 64], padding=True, truncation=True, max_length=128, return_tensors="pt")
            h = model(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).float()
            feats.append((h * mask).sum(1) / mask.sum(1))
    return torch.cat(feats).numpy()


def probe(train: list[dict], val: list[dict]) -> float:
    from sklearn.linear_model import LogisticRegression

    from hub_models.bert import builtin_base_folder

    base = builtin_base_folder()
    clf = LogisticRegression(max_iter=2000).fit(mean_pooled(base, [r["text"] for r in train]),
                                                [r["label"] for r in train])
    return float(clf.score(mean_pooled(base, [r["text"] for r in val]), [r["label"] for r in val]))


def accuracy_of(model_dir: Path, rows: list[dict]) -> float:
    """The saved model's accuracy on ``rows``, read as a user would: plain transformers pipeline."""
    from transformers import pipeline

    clf = pipeline("text-classification", model=str(model_dir))
    got = clf([r["text"] for r in rows], batch_size=32)
    return sum(g["label"] == r["label"] for g, r in zip(got, rows)) / len(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=0, help="0: the config's default")
    ap.add_argument("--rows", type=int, nargs="+", default=[400, 60], help="sizes of the user table to try")
    ap.add_argument("--seeds", type=int, default=1, help="fine-tune with seeds 0..N-1: the mean and each run")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bert-probe-"))
    try:
        run(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # the fine-tuned models: a few hundred MB


def run(args: argparse.Namespace, tmp: Path) -> None:
    from training.bert_data import builtin_sample, table_data
    from training.tasks import train
    from training.tasks.bert import BertConfig

    sample = builtin_sample("sentiment")
    # (data name, what the trainer is given, the probe's training rows, the held-out rows both are scored on)
    cases = [("built-in sentiment", "sentiment", sample.train, sample.val)]
    for n in args.rows:
        (tmp / str(n)).mkdir()
        table, held_out = review_table(tmp / str(n), n)
        rows_of = [table_data(str(f), "sequence", "local", val_split=0.01).train for f in (table, held_out)]
        cases.append((f"reviews.csv, {n} rows", str(table), *rows_of))
    print(f"{'data':28} {'linear probe':>12} {'fine-tuned':>11} {'time/run':>9}  runs")
    for name, spec, train_rows, val_rows in cases:
        p = probe(train_rows, val_rows)
        t = time.perf_counter()
        runs = []
        for seed in range(args.seeds):
            out = tmp / f"out-{len(train_rows)}-{spec[-12:].replace('/', '-')}-{seed}"
            extra = {"epochs": args.epochs} if args.epochs else {}
            end = list(train(BertConfig(task="sequence", dataset=spec, output_dir=str(out), seed=seed, **extra)))[-1]
            assert end["status"] == "completed", end
            runs.append(accuracy_of(out / "model", val_rows))
            shutil.rmtree(out)
        print(f"{name:28} {p:12.3f} {sum(runs) / len(runs):11.3f} {(time.perf_counter() - t) / len(runs):8.0f}s  "
              f"{', '.join(f'{r:.3f}' for r in runs)}", flush=True)


if __name__ == "__main__":
    main()

"""BERT fine-tuning: the config and the declaration (torch-free)."""
from __future__ import annotations

from dataclasses import dataclass

from common.errors import ConfigError
from common.i18n import t

from ..config import TrainConfig, field_label, opt
from ..bert_data import BUILTIN, BUILTIN_KIND
from . import Task

KINDS = ("sequence", "token", "mlm")


@dataclass
class BertConfig(TrainConfig):
    # Defaults that fine-tune MiniLM on the built-in reviews in about a minute on two CPU cores.
    epochs: int = opt(0, "passes over the training split; 0: auto, at least 3 and enough for 100 optimizer steps (a "
                         "60-row table in 3 passes is 9 steps: fine-tuned, it scored 0.73 on new words where a "
                         "linear probe scored 0.99; in 100 steps, 0.975)", label="Epochs (0: auto)", min=0, max=100)
    batch_size: int = opt(16, "examples per step", min=1, max=512)
    lr: float = opt(5e-5, "peak learning rate (BERT fine-tuning likes 2e-5 to 1e-4)", label="Learning rate",
                    min=1e-7, max=1)
    warmup_steps: int = opt(10, "linear warm-up steps before the schedule", label="Warm-up steps", min=0)
    schedule: str = opt("constant", "learning-rate schedule over the run",
                        ("constant", "cosine", "step", "onecycle"))
    weight_decay: float = opt(0.01, "weight decay (decoupled for adamw)", min=0, max=1)
    task: str = opt("sequence", "sequence: a label per sentence or sentence pair; token: a tag per word (BIO "
                                "entities); mlm: train the masked-LM head (fill the mask)", KINDS)
    base: str = opt("all-MiniLM-L6-v2", "the encoder to fine-tune: all-MiniLM-L6-v2 (built in, offline), a repo id "
                                        "on --hub or a folder", label="Base model")
    dataset: str = opt("sentiment", f"built in: {', '.join(BUILTIN)}; or a .csv/.tsv/.jsonl file or a dataset repo "
                                    f"id on --hub")
    text_column: str = opt("", "column with the text (token task: words, a list or space-separated); "
                               "default: text, sentence, sentence1, tokens...")
    pair_column: str = opt("", "column with the second sentence of a pair (default: text_pair, sentence2, "
                               "hypothesis if present)", label="Second-sentence column")
    label_column: str = opt("", "column with the label (token task: one tag per word); default: label, ner_tags...")
    max_length: int = opt(128, "truncate inputs to this many tokens", label="Max length (tokens)", min=8, max=512)
    val_split: float = opt(0.2, "fraction of a user's data held out for validation (built-in samples have their own)",
                           min=0.01, max=0.99)
    mlm_probability: float = opt(0.15, "mlm task: share of tokens masked (BERT's 15 %)", label="MLM probability",
                                 min=0.01, max=0.99)

    def check(self) -> None:
        if self.task == "token" and self.pair_column:
            raise ConfigError("pair_column", t("trainer.task_pair_column", label=field_label(type(self), "pair_column")))
        # Last: the tab's validator sees the default dataset (the start handler sets the one picked), so this
        # rule must not hide the ones above from it.
        kind = BUILTIN_KIND.get(self.dataset)
        if kind is not None and self.task != "mlm" and kind != self.task:
            good = [n for n, k in BUILTIN_KIND.items() if k == self.task]
            raise ConfigError("dataset", t("trainer.task_bert_sample", label=field_label(type(self), "dataset"),
                                           name=self.dataset, kind=kind, task=self.task, good=", ".join(good)))


TASK = Task(name="bert", title="BERT fine-tuning", config=BertConfig, trainer="training.bert", metric="accuracy",
            dry_run={"batch_size": 4}, tab="webui.bert", space="bert",
            pipelines=("text-classification", "token-classification", "fill-mask"), memory_gb=3.0)

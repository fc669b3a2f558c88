"""Text generation: the config and the declaration (torch-free)."""
from __future__ import annotations

from dataclasses import dataclass

from common.errors import ConfigError
from common.i18n import t
from hub_models.catalog import LANGUAGE_MODELS, fine_tune_bases

from ..config import TrainConfig, field_label, opt
from . import Task

# i18n: kept (the English of the dataset field's help; the form translates it: form.*)
CORPORA = {"python-docs": "the Python Language Reference topics (pydoc_data.topics, PSF License), 465 KB"}
MIN_CHARS = 1000  # a smaller --max-chars leaves too little for training windows and a validation split


@dataclass
class TextGenConfig(TrainConfig):
    # Defaults that make a character LSTM write recognisable English in a few minutes on two CPU cores.
    epochs: int = opt(5, "passes over the training split", min=1, max=200)
    batch_size: int = opt(32, "sequences per step", min=1, max=1024)
    lr: float = opt(3e-3, "peak learning rate", label="Learning rate", min=1e-7, max=1)
    grad_clip: float = opt(1.0, "clip the gradient norm to this value (RNNs need it; 0: off)",
                           label="Gradient clipping (0: off)", min=0)
    model: str = opt("char-lstm", "a character or word RNN, GRU or LSTM (ours), or a tiny GPT-2 (transformers)",
                     tuple(LANGUAGE_MODELS))
    dataset: str = opt("python-docs", f"built in: {', '.join(f'{k} ({v})' for k, v in CORPORA.items())}; or a "
                                      f".txt file, or a dataset repo id on --hub (its text column)")
    text_column: str = opt("text", "the column that holds the text, for a dataset repo")
    seq_len: int = opt(128, "tokens per training sequence (back-propagation through time)",
                       label="Sequence length (tokens)", min=8, max=1024)
    hidden_size: int = opt(0, "RNN hidden units / GPT-2 embedding width (0: the model's default)",
                           label="Hidden size (0: default)", min=0, max=2048)
    num_layers: int = opt(0, "stacked layers (0: the model's default)", label="Layers (0: default)", min=0, max=12)
    max_chars: int = opt(300_000, f"use at most this many characters of the corpus (0: all; else at least "
                                  f"{MIN_CHARS:,})", label="Use at most (characters)", min=0)
    val_fraction: float = opt(0.1, "the end of the corpus held out for validation", min=0.01, max=0.5)
    init_from: str = opt("", "fine-tune: start from a causal language model of transformers (GPT-2 family) saved "
                             "here or on --hub, a folder or repo id such as openai-community/gpt2; its tokenizer and "
                             "size are used, and --model, --hidden-size and --num-layers are ignored",
                         label="Fine-tune from (a GPT-2 repo)", suggest=fine_tune_bases("textgen"))
    sample_prompt: str = opt("The ", "prompt of the sample written after each epoch")
    sample_tokens: int = opt(200, "tokens in that sample", min=1, max=2000)

    def check(self) -> None:
        if 0 < self.max_chars < MIN_CHARS:
            raise ConfigError("max_chars", t("trainer.task_max_chars", label=field_label(type(self), "max_chars"),
                                             least=MIN_CHARS, chars=self.max_chars))


TASK = Task(name="textgen", title="Text generation", config=TextGenConfig, trainer="training.textgen",
            metric="perplexity", lower_is_better=True, dry_run={"batch_size": 4, "seq_len": 32, "sample_tokens": 20},
            tab="webui.textgen", space="textgen", pipelines=("text-generation",))

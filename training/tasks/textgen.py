"""Text generation: the config and the declaration (torch-free)."""
from __future__ import annotations

from dataclasses import dataclass

from ..config import TrainConfig, opt
from . import Task

CORPORA = {"python-docs": "the Python Language Reference topics (pydoc_data.topics, PSF License), 465 KB"}


@dataclass
class TextGenConfig(TrainConfig):
    # Defaults that make a character LSTM write recognisable English in a few minutes on two CPU cores.
    epochs: int = opt(5, "passes over the training split")
    batch_size: int = opt(32, "sequences per step")
    lr: float = opt(3e-3, "peak learning rate")
    grad_clip: float = opt(1.0, "clip the gradient norm to this value (RNNs need it; 0: off)")
    model: str = opt("char-lstm", "char-rnn, char-gru, char-lstm, word-lstm (ours) or gpt2-tiny (transformers)")
    dataset: str = opt("python-docs", f"built in: {', '.join(f'{k} ({v})' for k, v in CORPORA.items())}; or a "
                                      f".txt file, or a dataset repo id on --hub (its text column)")
    text_column: str = opt("text", "the column that holds the text, for a dataset repo")
    seq_len: int = opt(128, "tokens per training sequence (back-propagation through time)")
    hidden_size: int = opt(0, "RNN hidden units / GPT-2 embedding width (0: the model's default)")
    num_layers: int = opt(0, "stacked layers (0: the model's default)")
    max_chars: int = opt(300_000, "use at most this many characters of the corpus (0: all)")
    val_fraction: float = opt(0.1, "the end of the corpus held out for validation")
    sample_prompt: str = opt("The ", "prompt of the sample written after each epoch")
    sample_tokens: int = opt(200, "tokens in that sample")


TASK = Task(name="textgen", title="Text generation", config=TextGenConfig, trainer="training.textgen", metric="perplexity",
            dry_run={"batch_size": 4, "seq_len": 32, "sample_tokens": 20}, tab="spaces.textgen")

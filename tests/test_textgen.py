"""Language models: decoding (hand-checked beam search), registered models' round trips, the trainer."""
from __future__ import annotations

import json
import math

import pytest
import torch

from common.errors import ConfigError
from hub_models.catalog import LANGUAGE_MODELS as MODELS
from hub_models.textgen import LM, RNNLM, _filter, beam_search, create_model, generate, join_words, \
    load_lm, sample_stream, split_words
from training.config import TrainingError
from training.tasks import train
from training.textgen import TextGenConfig

# A Markov chain over 4 tokens (3 = start): greedy takes 'a' (0.6) and then at best 0.4 (total 0.24),
# while 'b' (0.4) is followed by 'c' with 0.98 (total 0.392): beam search must find b, c.
TABLE = {3: [0.6, 0.4, 1e-6, 1e-6], 0: [0.4, 0.3, 0.3, 1e-6], 1: [0.01, 0.01, 0.98, 1e-6],
         2: [0.25, 0.25, 0.5, 1e-6]}


def _markov_step(ids: torch.Tensor, state):
    probs = torch.tensor([TABLE[int(ids[0, -1])]])
    return (probs / probs.sum()).log(), state


class _Markov:
    kind, eos = "rnn", None
    step = staticmethod(_markov_step)


def test_beam_search_finds_the_best_sequence_greedy_misses():
    greedy = list(sample_stream(_Markov(), [3], 2, greedy=True))
    assert greedy == [0, 0]  # 0.6 * 0.4 = 0.24
    beams = beam_search(_markov_step, [3], 2, beam_width=2)
    assert beams[0][0] == [1, 2]
    assert beams[0][1] == pytest.approx(math.log(0.4 * 0.98), abs=1e-4)
    assert beams[1][0] == [0, 0] and beams[1][1] < beams[0][1]
    assert beam_search(_markov_step, [3], 2, beam_width=1)[0][0] == [0, 0]  # width 1 is greedy


def test_top_k_and_top_p_filters():
    logp = torch.tensor([[0.5, 0.3, 0.15, 0.05]]).log()
    kept = _filter(logp, top_k=2, top_p=1.0).isfinite()[0].tolist()
    assert kept == [True, True, False, False]
    kept = _filter(logp, top_k=0, top_p=0.7).isfinite()[0].tolist()
    assert kept == [True, True, False, False]  # 0.5 < 0.7, 0.5 + 0.3 reaches it
    assert _filter(logp, top_k=0, top_p=0.5).isfinite()[0].tolist() == [True, False, False, False]
    gen = torch.Generator().manual_seed(0)
    draws = {t for _ in range(50) for t in sample_stream(_Markov(), [3], 1, top_k=1, generator=gen)}
    assert draws == {0}  # top-1 sampling is greedy


def test_word_tokens_round_trip():
    text = "Hello, world! It's (really) fine.\nNext line"
    assert split_words(text)[:6] == ["Hello", ",", "world", "!", "It's", "("]
    assert join_words(split_words(text)) == text


@pytest.mark.parametrize("name", list(MODELS))
def test_every_model_round_trips_through_the_hub(name, hub_server, repo_name, tmp_path):
    from hub.client import pull, push_folder

    torch.manual_seed(0)
    if MODELS[name].family == "rnn":
        vocab = list("abc \n") if MODELS[name].defaults["level"] == "char" else ["<unk>", "the", "cat", "sat", "\n"]
        model = create_model(name, vocab, hidden_size=16, embed_size=8).eval()
        model.save_pretrained(tmp_path)
    else:
        from hub_models.textgen import train_bpe

        tok = train_bpe("the cat sat on the mat. " * 50, vocab_size=300)
        model = create_model(name, vocab_size=len(tok), n_layer=1, n_embd=32, n_head=2).eval()
        model.save_pretrained(tmp_path)
        tok.save_pretrained(tmp_path)
    repo = f"alice/{repo_name}"
    push_folder(tmp_path, repo, hub_server.hub())
    lm = load_lm(pull(repo, hub_server.hub()))
    x = torch.tensor([[1, 2, 3, 1]])
    with torch.no_grad():
        before = model(x)[0] if lm.kind == "rnn" else model(input_ids=x).logits
        after = lm.model(x)[0] if lm.kind == "rnn" else lm.model(input_ids=x).logits
    assert torch.equal(before, after)
    text, _ = next(iter(generate(lm, "the", 3, "greedy")))
    assert text.startswith("the")


def test_gpt2_loads_with_plain_transformers_pipeline(hub_server, repo_name, tmp_path, monkeypatch):
    from transformers import pipeline

    monkeypatch.setenv("DLP_HUB_TOKEN", hub_server.tokens["alice"])
    repo = f"alice/{repo_name}"
    cfg = TextGenConfig(model="gpt2-tiny", dry_run=True, output_dir=str(tmp_path), push_to_hub=repo,
                        hub=hub_server.url)
    assert list(train(cfg))[-1]["status"] == "completed"
    out = pipeline("text-generation", model=repo)("The ", max_new_tokens=5, do_sample=False)
    assert out[0]["generated_text"].startswith("The ")
    assert "pipeline_tag: text-generation" in (tmp_path / "model" / "README.md").read_text()


@pytest.mark.parametrize("name", list(MODELS))
def test_dry_run_each_model(name, tmp_path):
    events = list(train(TextGenConfig(model=name, dry_run=True, output_dir=str(tmp_path))))
    assert events[-1]["status"] == "completed", events[-1]
    samples = [e for e in events if e["type"] == "sample"]
    assert samples and samples[0]["kind"] == "text" and samples[0]["data"].startswith("The ")
    assert {"perplexity", "bits_per_char", "loss"} <= set(events[-1]["metrics"])


def test_a_char_gru_learns_a_repeated_phrase(tmp_path):
    corpus = tmp_path / "hello.txt"
    corpus.write_text("hello world\n" * 400)
    cfg = TextGenConfig(model="char-gru", dataset=str(corpus), epochs=6, seq_len=24, batch_size=16, hidden_size=32,
                        num_layers=1, lr=1e-2, output_dir=str(tmp_path / "out"), sample_prompt="hello")
    end = list(train(cfg))[-1]
    assert end["status"] == "completed" and end["metrics"]["perplexity"] < 1.5, end
    lm = load_lm(tmp_path / "out" / "model")
    text, _ = list(generate(lm, "hello", 12, "greedy"))[-1]
    assert text.startswith("hello world\nhello"), text
    beam_text, beams = list(generate(lm, "hello", 6, "beam", beam_width=3))[-1]
    assert beam_text == "hello world" and len(beams) == 3


def test_bad_corpora_and_models(tmp_path, hub_server):
    short = tmp_path / "short.txt"
    short.write_text("too short")
    with pytest.raises(TrainingError, match="at least 200"):
        list(train(TextGenConfig(dataset=str(short), output_dir=str(tmp_path / "a"))))
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("caf\xe9 ".encode("latin-1") * 100)
    with pytest.raises(TrainingError, match="not UTF-8"):
        list(train(TextGenConfig(dataset=str(latin1), output_dir=str(tmp_path / "b"))))
    with pytest.raises(ConfigError, match="Model: one of char-rnn, .*not 'gpt5'") as e:
        list(train(TextGenConfig(model="gpt5", output_dir=str(tmp_path / "c"))))
    assert e.value.field == "model"
    with pytest.raises(TrainingError, match="no-such-corpus"):
        list(train(TextGenConfig(dataset="alice/no-such-corpus", hub=hub_server.url, output_dir=str(tmp_path / "d"))))
    vit = tmp_path / "vit"
    vit.mkdir()
    (vit / "config.json").write_text(json.dumps({"model_type": "vit", "architectures": ["ViTForImageClassification"]}))
    from hub_models.textgen import LoadError

    with pytest.raises(LoadError, match="not a causal language model"):
        load_lm(vit)
    with pytest.raises(ValueError, match="unknown cell"):
        RNNLM(list("ab"), cell="transformer")
    lm = LM(RNNLM(list("ab"), hidden_size=8, embed_size=4).eval(), "rnn")
    text, _ = list(generate(lm, "zzz", 5, "sample", seed=0))[-1]  # nothing of the prompt is in the vocabulary
    assert text.startswith("zzz") and len(text) == 8

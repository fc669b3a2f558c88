"""Translation: the built-in pairs' grammar, the seq2seq models, the trainer and bad tables."""
from __future__ import annotations

import json

import pytest
import torch

from common.errors import ConfigError
from hub_models.catalog import TRANSLATORS
from hub_models.translation import LoadError, Seq2Seq, build_vocab, load_translator, translate
from training.config import TrainingError
from training.tasks import train
from training.translation import TranslationConfig
from training.translation_data import _pair, builtin_pairs, table_pairs


def test_builtin_pairs_follow_french_grammar():
    import random

    rng = random.Random(1)
    pairs = dict(_pair(rng) for _ in range(3000))
    for en, fr in pairs.items():
        if " not " in en:
            assert " pas " in fr and (" ne " in fr or " n'" in fr), (en, fr)
            if " a " in en or " an " in en:
                assert " de " in fr or " d'" in fr, (en, fr)  # un/une become de under negation
        if en.startswith("I like"):
            assert fr.startswith("J'aime"), fr  # je elides before a vowel
        if "black car" in en:
            assert "voiture noire" in fr  # feminine agreement, colour after the noun
    train_rows, val_rows = builtin_pairs(n_train=500, n_val=50)
    assert not {r["source"] for r in train_rows} & {r["source"] for r in val_rows}
    assert any(" , et " in r["target"] for r in train_rows)  # two-clause sentences too


@pytest.mark.parametrize("name", [n for n, e in TRANSLATORS.items() if e.family == "gru"])
def test_every_model_round_trips_through_the_hub(name, hub_server, repo_name, tmp_path):
    from hub.client import pull, push_folder

    torch.manual_seed(0)
    model = Seq2Seq(build_vocab(["the red car ."]), build_vocab(["la voiture rouge ."]), **TRANSLATORS[name].defaults,
                    hidden_size=16, embed_size=8).eval()
    model.save_pretrained(tmp_path)
    repo = f"alice/{repo_name}"
    push_folder(tmp_path, repo, hub_server.hub())
    loaded = load_translator(pull(repo, hub_server.hub()))
    src, tgt = torch.tensor([[4, 5, 6, 2]]), torch.tensor([[1, 4, 5]])
    with torch.no_grad():
        assert torch.equal(model(src, tgt)[0], loaded(src, tgt)[0])
    out = translate(loaded, "the red car .", "beam", 2, max_len=5)
    assert len(out["beams"]) == 2 and len(out["attention"]) == len(out["target_tokens"])


def test_attention_learns_the_builtin_pairs_and_beats_no_attention(tmp_path):
    results = {}
    for name in ("gru", "gru-additive-attention"):
        end = list(train(TranslationConfig(model=name, epochs=2, output_dir=str(tmp_path / name))))[-1]
        assert end["status"] == "completed", end
        results[name] = end["metrics"]["bleu"]
    assert results["gru-additive-attention"] >= 90, results
    assert results["gru-additive-attention"] > results["gru"] + 20, results
    model = load_translator(tmp_path / "gru-additive-attention" / "model")
    out = translate(model, "She does not buy the black hat today .")
    assert out["translation"] == "Elle n'achète pas le chapeau noir aujourd'hui."
    attention = torch.tensor(out["attention"])
    noir, black = out["target_tokens"].index("noir"), out["source_tokens"].index("black")
    assert attention[noir].argmax() == black  # the colour word looks at the colour word
    card = (tmp_path / "gru-additive-attention" / "model" / "README.md").read_text()
    assert "pipeline_tag: translation" in card and "bleu" in card


def test_dry_run_dot_attention_and_bad_tables(tmp_path, hub_server):
    end = list(train(TranslationConfig(model="gru-dot-attention", dry_run=True, output_dir=str(tmp_path / "d"))))[-1]
    assert end["status"] == "completed"
    tsv = tmp_path / "pairs.tsv"
    tsv.write_text("en\tde\n" + "".join(f"hello {i}\thallo {i}\n" for i in range(30)))
    train_rows, val_rows, notes = table_pairs(str(tsv), "local")
    assert len(train_rows) + len(val_rows) == 30 and "source=en" in notes[0]
    uneven = tmp_path / "uneven.tsv"
    uneven.write_text("source\ttarget\n" + "a\tb\n" * 12 + "c\t\n")
    with pytest.raises(TrainingError, match="row 13: a source sentence without its target"):
        table_pairs(str(uneven), "local")
    few = tmp_path / "few.tsv"
    few.write_text("source\ttarget\na\tb\n")
    with pytest.raises(TrainingError, match="only 1 sentence pairs"):
        table_pairs(str(few), "local")
    with pytest.raises(ConfigError, match="Model: one of gru, .*not 'transformer-xl'") as e:
        list(train(TranslationConfig(model="transformer-xl", output_dir=str(tmp_path / "x"))))
    assert e.value.field == "model"
    with pytest.raises(TrainingError, match="no-such-pairs"):
        list(train(TranslationConfig(dataset="alice/no-such-pairs", hub=hub_server.url, output_dir=str(tmp_path / "y"))))
    vit = tmp_path / "vit"
    vit.mkdir()
    (vit / "config.json").write_text(json.dumps({"model_type": "vit", "architectures": ["ViTForImageClassification"]}))
    with pytest.raises(LoadError, match="vit model, not a translation"):
        load_translator(vit)


def test_transformer_learns_and_loads_with_plain_transformers(hub_server, repo_name, tmp_path, monkeypatch):
    """BART-style: pushed, then read back and run by transformers alone (v5 has no translation pipeline)."""
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    monkeypatch.setenv("DLP_HUB_TOKEN", hub_server.tokens["alice"])
    repo = f"alice/{repo_name}"
    cfg = TranslationConfig(model="transformer-tiny", epochs=2, output_dir=str(tmp_path), push_to_hub=repo,
                            hub=hub_server.url)
    end = list(train(cfg))[-1]
    assert end["status"] == "completed" and end["metrics"]["bleu"] > 80, end
    plain, tok = AutoModelForSeq2SeqLM.from_pretrained(repo), AutoTokenizer.from_pretrained(repo)
    assert type(plain).__name__ == "BartForConditionalGeneration"
    out = tok.decode(plain.generate(**tok("We like the dog .", return_tensors="pt"), max_new_tokens=20)[0],
                     skip_special_tokens=True)
    assert out.strip() == "Nous aimons le chien ."
    model = load_translator(tmp_path / "model")
    result = translate(model, "We like the dog .", "beam", 3)
    assert result["translation"] == "Nous aimons le chien ." and len(result["beams"]) == 3
    assert len(result["attention"]) == len(result["target_tokens"]) and result["attention"][0]

"""BERT fine-tuning: built-in samples, user tables, metrics, the trainer and text inference (CPU, MiniLM)."""
from __future__ import annotations

import json

import pytest

from common.errors import ConfigError
from training.engine import TrainingError
from training.metrics import bio_spans, entity_f1
from training.bert_data import _NEG, _PEOPLE, _POS, builtin_sample, pick_columns, table_columns, table_data


def test_builtin_samples_hold_out_words_for_validation():
    data = builtin_sample("sentiment")
    train_text = " ".join(r["text"] for r in data.train)
    assert not [w for w in _POS["val"] + _NEG["val"] if w in train_text]
    assert all(any(w in r["text"] for w in _POS["val"] + _NEG["val"]) for r in data.val)
    assert {r["label"] for r in data.val} == {"negative", "positive"}
    pairs = builtin_sample("sentiment-pairs")
    assert {r["label"] for r in pairs.train} == {"entailment", "contradiction", "neutral"}
    assert all(r["text_pair"] for r in pairs.train)
    ents = builtin_sample("entities")
    assert ents.kind == "token" and all(len(r["text"]) == len(r["label"]) for r in ents.train)
    train_words = {w for r in ents.train for w in r["text"]}
    assert not {w for name in _PEOPLE["val"] for w in name.split()} & train_words
    with pytest.raises(TrainingError, match="no built-in sample"):
        builtin_sample("imdb")


def test_bio_spans_and_entity_f1():
    tags = ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-ORG", "O"]
    assert bio_spans(tags) == {(0, 2, "PER"), (3, 4, "LOC"), (4, 5, "LOC"), (5, 6, "ORG")}
    assert entity_f1([tags], [tags]) == 1.0
    # one right span of two true ones, one wrong predicted span: P = 1/2, R = 1/2
    assert entity_f1([["B-PER", "I-PER", "O", "B-LOC"]], [["B-PER", "I-PER", "B-ORG", "O"]]) == pytest.approx(0.5)
    assert entity_f1([["B-PER", "I-PER"]], [["B-PER", "O"]]) == 0.0  # wrong bounds count as wrong


def test_user_tables_good_and_bad(tmp_path):
    csv = tmp_path / "reviews.csv"
    csv.write_text("sentence,label\n" + "".join(f"\"good {i}, really\",pos\nbad {i},neg\n" for i in range(10)))
    data = table_data(str(csv), "sequence", "local", seed=1)
    assert data.labels == ["neg", "pos"] and len(data.train) + len(data.val) == 20 and len(data.val) == 4
    assert "text=sentence" in data.notes[-1]
    # What the tab checks of an upload: its header, from the first rows only (the job reads the rest).
    long = tmp_path / "long.csv"
    long.write_text("sentence,label\n" + "fine,pos\n" * 50 + '"unclosed,neg\n')
    assert pick_columns(table_columns(long), "sequence") == ("sentence", "label", None)
    with pytest.raises(TrainingError, match="long.csv is not a readable CSV file"):
        table_data(str(long), "sequence", "local")
    with pytest.raises(TrainingError, match="which column holds the labels"):
        pick_columns(["sentence", "stars"], "sequence")

    tsv = tmp_path / "pairs.tsv"
    tsv.write_text("premise\thypothesis\tlabel\n" + "a\tb\tyes\nc\td\tno\n" * 4)
    assert "text_pair" in table_data(str(tsv), "sequence", "local").train[0]

    jsonl = tmp_path / "ner.jsonl"
    jsonl.write_text("\n".join(json.dumps({"tokens": ["Ann", "saw", "Rome"], "ner_tags": ["B-PER", "O", "B-LOC"]})
                               for _ in range(6)))
    tagged = table_data(str(jsonl), "token", "local")
    assert tagged.labels == ["B-LOC", "B-PER", "O"] and tagged.train[0]["text"] == ["Ann", "saw", "Rome"]

    with pytest.raises(TrainingError, match="no column 'review'.*sentence, label"):
        table_data(str(csv), "sequence", "local", text_column="review")
    one = tmp_path / "one.csv"
    one.write_text("text,label\n" + "x,pos\n" * 8)
    with pytest.raises(TrainingError, match="one class"):
        table_data(str(one), "sequence", "local")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"tokens": ["a", "b"], "tags": ["O"]}) + "\n")
    with pytest.raises(TrainingError, match="row 1: 2 words but 1 tags"):
        table_data(str(bad), "token", "local")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(TrainingError, match="empty"):
        table_data(str(empty), "sequence", "local")
    png = tmp_path / "x.png"
    png.write_bytes(b"\x89PNG")
    with pytest.raises(TrainingError, match="give a .csv"):
        table_data(str(png), "sequence", "local")
    with pytest.raises(TrainingError, match="no dataset"):
        table_data("not a file", "sequence", "local")


def test_unknown_dataset_repo_and_wrong_kind_of_base(hub_server, tmp_path):
    from training.bert import BertConfig
    from training.tasks import train

    cfg = BertConfig(dataset="alice/no-such-dataset", hub=hub_server.url, output_dir=str(tmp_path / "a"))
    with pytest.raises(TrainingError, match="no-such-dataset"):
        list(train(cfg))
    vision = tmp_path / "vit"
    vision.mkdir()
    (vision / "config.json").write_text(json.dumps({"model_type": "vit", "architectures": ["ViTForImageClassification"]}))
    cfg = BertConfig(base=str(vision), output_dir=str(tmp_path / "b"))
    with pytest.raises(TrainingError, match="vit model.*text encoder"):
        list(train(cfg))
    cfg = BertConfig(task="token", dataset="sentiment", output_dir=str(tmp_path / "c"))
    with pytest.raises(ConfigError, match="'sentiment' is for sequence labels; for the token task use entities") as e:
        list(train(cfg))
    assert e.value.field == "dataset"
    with pytest.raises(ConfigError, match="token classification tags one text") as e:
        BertConfig(task="token", dataset="entities", pair_column="hypothesis").validate()
    assert e.value.field == "pair_column"
    BertConfig(task="mlm", dataset="entities").validate()  # any sample trains a masked LM


@pytest.mark.parametrize("task,dataset", [("sequence", "sentiment-pairs"), ("token", "entities"), ("mlm", "sentiment")])
def test_dry_run_each_task(task, dataset, tmp_path):
    from training.bert import BertConfig
    from training.tasks import train

    events = list(train(BertConfig(task=task, dataset=dataset, dry_run=True, output_dir=str(tmp_path))))
    assert events[-1]["type"] == "end" and events[-1]["status"] == "completed", events[-1]
    assert (tmp_path / "model" / "tokenizer.json").exists() and (tmp_path / "model" / "README.md").exists()


def test_minilm_beats_the_majority_baseline_and_loads_with_plain_transformers(hub_server, repo_name, tmp_path,
                                                                              monkeypatch):
    """Held-out adjectives: right only because pre-training placed them near the training ones."""
    from transformers import pipeline

    from hub.client import pull
    from training.bert import BertConfig
    from training.tasks import train

    repo = f"alice/{repo_name}"
    cfg = BertConfig(dataset="sentiment", epochs=1, output_dir=str(tmp_path), push_to_hub=repo, hub=hub_server.url)
    monkeypatch.setenv("DLP_HUB_TOKEN", hub_server.tokens["alice"])
    end = list(train(cfg))[-1]
    assert end["status"] == "completed", end
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["majority_baseline"] == pytest.approx(0.5)
    assert metrics["accuracy"] >= metrics["majority_baseline"] + 0.3, metrics
    card = (tmp_path / "model" / "README.md").read_text()
    assert "base_model: sentence-transformers/all-MiniLM-L6-v2" in card and "pipeline_tag: text-classification" in card
    # No code from this project: the pipeline reads the repo from the hub (HF_ENDPOINT is the test hub).
    clf = pipeline("text-classification", model=repo)
    assert clf("The lecture was magnificent.")[0]["label"] == "positive"
    assert clf("The lecture was atrocious.")[0]["label"] == "negative"
    assert (pull(repo, hub_server.hub()) / "confusion_matrix.json").exists()


def test_the_classifier_of_a_mean_pooled_base_reads_the_mean_of_its_tokens():
    """all-MiniLM-L6-v2 was trained to be read by mean pooling; BERT's head reads the [CLS] position: one more layer
    puts the mean there, and the model is still plain BERT (one more layer in config.json)."""
    import torch
    import torch.nn.functional as F
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from hub_models.bert import add_mean_pooling_layer, builtin_base_folder, pools_by_mean

    base = builtin_base_folder()
    assert pools_by_mean(base)
    tok, model = AutoTokenizer.from_pretrained(base), AutoModelForSequenceClassification.from_pretrained(base).eval()
    enc = tok(["The soup was superb.", "Our waiter was rude to everyone at the table."], padding=True,
              return_tensors="pt")
    with torch.no_grad():
        h = model.bert(**enc).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).float()
        mean = (h * mask).sum(1) / mask.sum(1)  # what sentence-transformers reads
        add_mean_pooling_layer(model)
        cls = model.bert(**enc).last_hidden_state[:, 0]
    assert model.config.num_hidden_layers == 7
    assert F.cosine_similarity(cls, F.layer_norm(mean, mean.shape[-1:])).min() > 0.999
    assert F.cosine_similarity(cls, F.layer_norm(h[:, 0], h.shape[-1:])).max() < 0.9  # not the [CLS] it was


def test_text_inference_checks_its_input(tmp_path):
    from hub_models.inference import InputError
    from hub_models.bert import MAX_CHARS, classify_text, fill_mask, tag_text
    from training.bert import BertConfig
    from training.tasks import train

    seq, tok = tmp_path / "seq", tmp_path / "tok"
    list(train(BertConfig(dataset="sentiment", dry_run=True, output_dir=str(seq))))
    list(train(BertConfig(task="token", dataset="entities", dry_run=True, output_dir=str(tok))))
    probs, note = classify_text(seq / "model", "The soup was exquisite.")
    assert set(probs) == {"negative", "positive"} and sum(probs.values()) == pytest.approx(1) and note == ""
    with pytest.raises(InputError, match="Enter some text"):
        classify_text(seq / "model", "   ")
    with pytest.raises(InputError, match="limit is"):
        classify_text(seq / "model", "a" * (1 << 20))
    assert len("a " * 200) < MAX_CHARS
    _, note = classify_text(seq / "model", "word " * 400)
    assert "first 256 tokens" in note
    _, note = classify_text(seq / "model", "这部电影非常好看")  # a script the uncased English vocabulary lacks
    assert "unknown to this model's vocabulary" in note
    tagged, _ = tag_text(tok / "model", "Kenji Tanaka flew to Vienna .")
    assert [w.strip() for w, _ in tagged] == ["Kenji", "Tanaka", "flew", "to", "Vienna", "."]
    with pytest.raises(InputError, match="no trained masked-LM head"):
        fill_mask(seq / "model", "The movie was [MASK].")

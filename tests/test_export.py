"""ONNX export: each exportable kind of model runs in onnxruntime as it does in PyTorch, a run with --export-onnx
leaves model.onnx beside the weights and says so in the card, and kinds that are not exported say why."""
from __future__ import annotations

import pytest
import torch



def _tiny_bert():
    from transformers import BertConfig, BertForTokenClassification

    return BertForTokenClassification(BertConfig(vocab_size=1200, hidden_size=32, num_hidden_layers=1,
                                                 num_attention_heads=2, intermediate_size=64, num_labels=5))


def _models():
    """The kinds the exporter meets besides the plain image model of the run below: one with two outputs, and a
    transformers encoder (face embedders, segmenters and style networks are image models like the classifier)."""
    from hub_models.detection import create_detector

    yield "detection", create_detector("tinyssd", 3, ["a", "b", "c"], 64)
    yield "bert", _tiny_bert()


def test_exported_models_run_in_onnxruntime_as_in_pytorch(tmp_path):
    from hub_models.export import export_onnx, onnx_difference

    for name, model in _models():
        torch.manual_seed(0)
        (tmp_path / name).mkdir()
        path, sig = export_onnx(model.eval(), tmp_path / name)
        assert path.stat().st_size > 0
        assert onnx_difference(path, sig, batch=3) < 1e-4, name  # another batch size than the export's


def test_models_that_loop_are_not_exported(tmp_path):
    from hub_models.catalog import TRANSLATORS
    from hub_models.export import export_onnx
    from hub_models.inference import InputError
    from hub_models.translation import Seq2Seq, build_vocab

    model = Seq2Seq(build_vocab(["a b ."]), build_vocab(["c d ."]), **TRANSLATORS["gru"].defaults, hidden_size=8,
                    embed_size=8)
    with pytest.raises(InputError, match="not exported to ONNX"):
        export_onnx(model, tmp_path)


def test_a_run_with_export_onnx_pushes_it_beside_the_weights(hub_server, repo_name, tmp_path, monkeypatch):
    from training.tasks import get_task, train

    monkeypatch.setenv("DLP_HUB_TOKEN", hub_server.tokens["alice"])
    out = tmp_path / "run"
    cfg = get_task("classification").config(dry_run=True, export_onnx=True, output_dir=str(out),
                                            push_to_hub=f"alice/{repo_name}", hub=hub_server.url)
    events = list(train(cfg))
    assert events[-1]["status"] == "completed", events[-1]
    assert any("exported model.onnx" in e.get("message", "") for e in events)
    assert (out / "model" / "model.onnx").exists()
    card = (out / "model" / "README.md").read_text()
    assert "## ONNX" in card and "pixel_values" in card
    assert "model.onnx" in hub_server.api().list_repo_files(f"alice/{repo_name}")

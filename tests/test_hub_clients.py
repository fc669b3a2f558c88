"""Round trips through the official, unmodified clients: push, pull, identical outputs.

``HF_ENDPOINT`` points at the test hub (see conftest), so these calls are exactly
what a user would write against huggingface.co.
"""
from __future__ import annotations

import pytest
import torch
from torch import nn


@pytest.fixture(autouse=True)
def _server(hub_server):
    return hub_server


def test_pytorch_model_hub_mixin(hub_server, repo_name):
    from huggingface_hub import PyTorchModelHubMixin

    class TinyNet(nn.Module, PyTorchModelHubMixin, tags=["dl-playground"], library_name="pytorch"):
        def __init__(self, width: int = 8, classes: int = 3):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(4, width), nn.ReLU(), nn.Linear(width, classes))

        def forward(self, x):
            return self.net(x)

    torch.manual_seed(0)
    model = TinyNet(width=16, classes=5).eval()
    repo = f"alice/{repo_name}"
    model.push_to_hub(repo, token=hub_server.tokens["alice"])
    loaded = TinyNet.from_pretrained(repo).eval()
    assert loaded.net[0].out_features == 16  # config.json carried the constructor arguments
    x = torch.randn(3, 4)
    torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)


def _tiny_bert_tokenizer(folder):
    from transformers import BertTokenizer

    words = ["hello", "world", "the", "cat", "sat", "on", "mat", "deep", "learning", "is", "fun"]
    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words])}
    tok = BertTokenizer(vocab=vocab)
    tok.save_pretrained(folder)
    return tok


def test_transformers_bert_push_and_from_pretrained(hub_server, repo_name, tmp_path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, BertConfig, BertForSequenceClassification

    tok = _tiny_bert_tokenizer(tmp_path / "tok")
    config = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64, num_labels=3)
    torch.manual_seed(0)
    model = BertForSequenceClassification(config).eval()
    repo = f"alice/{repo_name}"
    model.push_to_hub(repo, token=hub_server.tokens["alice"])
    tok.push_to_hub(repo, token=hub_server.tokens["alice"])

    tok2 = AutoTokenizer.from_pretrained(repo)
    model2 = AutoModelForSequenceClassification.from_pretrained(repo).eval()
    batch = tok2(["hello world", "the cat sat on the mat"], padding=True, return_tensors="pt")
    assert (batch["input_ids"] != tok.unk_token_id).all()  # the vocab survived the trip
    with torch.no_grad():
        torch.testing.assert_close(model2(**batch).logits, model(**batch).logits, rtol=0, atol=0)


def test_timm_push_to_hf_hub_and_create_model(hub_server, repo_name):
    import timm
    from timm.models import push_to_hf_hub

    torch.manual_seed(0)
    model = timm.create_model("resnet10t", pretrained=False, num_classes=3).eval()
    repo = f"alice/{repo_name}"
    push_to_hf_hub(model, repo, token=hub_server.tokens["alice"])
    loaded = timm.create_model(f"hf-hub:{repo}", pretrained=True).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)
    assert loaded.pretrained_cfg.get("num_classes") == 3


def test_diffusers_ddpm_pipeline_round_trip(hub_server, repo_name):
    from diffusers import DDPMPipeline, DDPMScheduler, UNet2DModel

    torch.manual_seed(0)
    unet = UNet2DModel(sample_size=8, in_channels=1, out_channels=1, block_out_channels=(8, 16),
                       layers_per_block=1, norm_num_groups=4,
                       down_block_types=("DownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "UpBlock2D"))
    pipe = DDPMPipeline(unet=unet, scheduler=DDPMScheduler(num_train_timesteps=20))
    repo = f"alice/{repo_name}"
    pipe.push_to_hub(repo, token=hub_server.tokens["alice"])
    pipe2 = DDPMPipeline.from_pretrained(repo)
    kwargs = dict(batch_size=2, num_inference_steps=5, output_type="np")
    a = pipe(generator=torch.Generator().manual_seed(1), **kwargs).images
    b = pipe2(generator=torch.Generator().manual_seed(1), **kwargs).images
    assert a.shape == (2, 8, 8, 1)
    assert (a == b).all()


def test_datasets_load_dataset_from_hub(hub_server, repo_name, tmp_path):
    import datasets

    api = hub_server.api()
    repo = f"alice/{repo_name}"
    api.create_repo(repo, repo_type="dataset")
    api.upload_file(path_or_fileobj=b"text,label\ngood,1\nbad,0\nfine,1\n", path_in_repo="train.csv",
                    repo_id=repo, repo_type="dataset")
    ds = datasets.load_dataset(repo, split="train", cache_dir=str(tmp_path))
    assert ds.num_rows == 3 and ds[0] == {"text": "good", "label": 1}

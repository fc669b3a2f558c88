"""Generation speed: our decoding loop against ``model.generate`` on the same GPT-2, and our RNNs alone.

A GPT-2 of the gpt2-tiny shape (4 layers, 4 heads, width 128, 1024-token BPE vocabulary) with random
weights (speed does not depend on what it learnt), a 16-token prompt, 256 new tokens, batch 1, CPU.
Both sides use the key/value cache. Sampling (temperature 0.8, top-p 0.95) and greedy; median of
the repeats after one warm-up.

    .venv/bin/python bench/generate_speed.py [--tokens 256] [--repeats 5]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from measure import timed  # noqa: E402 (bench/measure.py)
import torch  # noqa: E402

from hub_models.textgen import LM, create_model, sample_stream, train_bpe  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--tokens", type=int, default=256)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    torch.manual_seed(0)
    from pydoc_data.topics import topics

    tok = train_bpe("\n".join(topics.values())[:200_000], 1024)
    model = create_model("gpt2-tiny", vocab_size=len(tok), n_positions=512, eos_token_id=tok.eos_token_id).eval()
    lm = LM(model, "hf", tok, 512)
    prompt = tok("The for statement is used to iterate over the elements of a sequence")["input_ids"][:16]
    n = args.tokens
    rows = []
    for name, ours, theirs in (
        ("sampling", dict(greedy=False, temperature=0.8, top_p=0.95),
         dict(do_sample=True, temperature=0.8, top_p=0.95, top_k=0)),
        ("greedy", dict(greedy=True), dict(do_sample=False)),
    ):
        def run_ours():
            assert len(list(sample_stream(lm, prompt, n, stop_at_eos=False, **ours))) == n

        def run_theirs():
            with torch.no_grad():
                out = model.generate(torch.tensor([prompt]), max_new_tokens=n, min_new_tokens=n, use_cache=True,
                                     pad_token_id=tok.eos_token_id, **theirs)
            assert out.shape[1] == len(prompt) + n

        t_ours, t_theirs = timed(run_ours, args.repeats), timed(run_theirs, args.repeats)
        rows.append((name, n / t_ours, n / t_theirs))
    rnn_rows = []
    for name in ("char-rnn", "char-gru", "char-lstm"):
        rnn = LM(create_model(name, [chr(c) for c in range(32, 127)]).eval(), "rnn")
        t = timed(lambda: list(sample_stream(rnn, rnn.encode("The "), n, temperature=0.8)), args.repeats)
        rnn_rows.append((name, n / t))
    print("| decoding (gpt2-tiny shape) | ours, tokens/s | model.generate, tokens/s | ours / generate |")
    print("|---|---|---|---|")
    for name, a, b in rows:
        print(f"| {name} | {a:.0f} | {b:.0f} | {a / b:.2f} |")
    print("\n| our RNN (default size), sampling | tokens/s |\n|---|---|")
    for name, a in rnn_rows:
        print(f"| {name} | {a:.0f} |")


if __name__ == "__main__":
    main()

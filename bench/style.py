"""Style transfer on CPU: one Gatys step (forward and backward through VGG-19 to conv5_1) at two image
sizes, and the time a fast style network takes to stylise one photo (target: well under a second at
512 px).

    .venv/bin/python bench/style.py [--repeats 5]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from hub_models.catalog import STYLE_NETS  # noqa: E402
from hub_models.style import StyleNet, builtin_image, gatys, random_vgg19, stylize  # noqa: E402

from generate_speed import timed  # noqa: E402  (bench/ is on sys.path: the script's own folder)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(2)
    ext = random_vgg19()
    content, style = builtin_image("chelsea"), builtin_image("flower")
    for size in (160, 256):
        steps = 5
        seconds = timed(lambda: list(gatys(content, style, ext, steps=steps, size=size, every=steps)), 1)
        print(f"Gatys, {size} px: {1000 * seconds / steps:7.0f} ms a step")
    photo = builtin_image("astronaut")
    for name, entry in STYLE_NETS.items():
        model = StyleNet(**entry.defaults).eval()
        for side in (256, 512):
            ms = 1000 * timed(lambda: stylize(model, photo, side), args.repeats)
            print(f"{name:<15} stylise {side}x{side}: {ms:7.0f} ms")


if __name__ == "__main__":
    main()

"""Face verification on CPU: where the time of one verification goes, and one-shot identification
against galleries of growing size.

Steps, median of ``--repeats`` runs after a warm-up: finding the face (Haar cascade) in the 512x512
astronaut photograph and in a 4000x4000 enlargement (searched at 1024 px), the eye cascade and
alignment, embedding one 64x64 crop with each registered embedder, and a whole ``verify`` of two
photographs. Identification: one query against galleries of 10, 100 and 500 people (the gallery keeps
crops, so any model can use it; a model embeds each enrolled crop once, on its first query).
Target: a verification well under a second.

    .venv/bin/python bench/faces.py [--repeats 10]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from hub_models.catalog import EMBEDDERS  # noqa: E402
from hub_models.faces import Gallery, create_embedder, detect_faces, embed_crops, face_crop, verify  # noqa: E402
from hub_models.inference import load_image  # noqa: E402

from generate_speed import timed  # noqa: E402  (bench/ is on sys.path: the script's own folder)

EX = Path(__file__).resolve().parents[1] / "assets" / "examples"


def median_ms(fn, repeats: int) -> float:
    return 1000 * timed(fn, repeats)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=10)
    args = ap.parse_args()
    torch.set_num_threads(2)
    photo = load_image(EX / "face-astronaut.jpg")
    big = photo.resize((4000, 4000))
    print(f"find the face, 512x512 photo     {median_ms(lambda: detect_faces(photo), args.repeats):8.1f} ms")
    print(f"find the face, 4000x4000 photo   {median_ms(lambda: detect_faces(big), args.repeats):8.1f} ms")
    print(f"find + eyes + align, 512x512     {median_ms(lambda: face_crop(photo), args.repeats):8.1f} ms")
    crop = face_crop(photo).crop
    for name in EMBEDDERS:
        model = create_embedder(name, 64, 64, "haar").eval()
        print(f"embed one crop, {name:<26}{median_ms(lambda: embed_crops(model, [crop]), args.repeats):8.1f} ms")
    model = create_embedder("small-cnn", 64, 64, "haar").eval()
    a, b = EX / "face-astronaut.jpg", EX / "face-astronaut-mirrored.jpg"
    print(f"verify two photos, small-cnn     {median_ms(lambda: verify(model, a, b), args.repeats):8.1f} ms")
    crops = [load_image(EX / f"face-visitor-{k}.png") for k in ("a1", "b1", "c1")]
    with tempfile.TemporaryDirectory() as tmp:
        g = Gallery(tmp)
        for n in (10, 100, 500):
            while len(g.names()) < n:
                g.enrol(f"person {len(g.names()):04d}", crops[len(g.names()) % 3])
            ms = median_ms(lambda: g.identify(model, crop, 0.5), max(3, args.repeats // 3))
            print(f"identify against {n:>3} people      {ms:8.1f} ms")


if __name__ == "__main__":
    main()

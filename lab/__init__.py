"""The Foundations tab's computations: small, in-request, instant on two cores (the tab holds no torch code).

regression.py linear regression by the closed form and by gradient descent, and bias against variance by degree
playground.py the 2-D playground: classifiers on points in the plane with the course's knobs, trained live
optim.py    the optimiser lab: hand-written SGD, momentum, Nesterov, AdaGrad, RMSProp, Adam and AdamW racing on 2-D
            loss surfaces, with learning-rate schedules and warm-up; trajectories and loss curves as pictures
backprop.py backpropagation by hand on a two-layer network, and the gradient check that catches a planted bug
conv.py     the convolution explorer: cross-correlation, padding, stride, channels and pooling with every number
"""
from __future__ import annotations

from typing import Iterator, TypeVar

T = TypeVar("T")


def one_thread(steps: Iterator[T]) -> Iterator[T]:
    """``steps`` with each resumption run on one intra-op thread, in whichever thread resumes it. The lab's tensors
    hold a few hundred numbers: splitting such ops over two cores costs more than it saves (1,000 playground steps:
    2.8 s on two threads, 1.0 s on one), and torch's setting is per OpenMP thread, so a request thread's change
    leaves the others alone; it is restored before each value goes out."""
    import torch

    while True:
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            item = next(steps)
        except StopIteration:
            return
        finally:
            torch.set_num_threads(before)
        yield item


MAX_CSV_BYTES = 1 << 20


def read_csv_rows(path: str, names: tuple[str, ...], max_rows: int, min_rows: int) -> list[list[str]]:
    """The rows of a user's small CSV with the columns ``names`` (a header line is skipped; extra columns are not
    allowed): their first len(names) - 1 fields are finite numbers, checked here; the last is returned as text."""
    import csv
    import io
    import math
    from pathlib import Path

    from common.errors import UserError
    from common.i18n import t

    want = ", ".join(names)
    p = Path(path)
    if p.suffix.lower() not in (".csv", ".txt"):
        raise UserError(t("lab.csv_upload", columns=want))
    if p.stat().st_size > MAX_CSV_BYTES:
        raise UserError(t("lab.csv_too_big", mb=MAX_CSV_BYTES >> 20, rows=max_rows))
    try:
        text = p.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UserError(t("lab.csv_not_utf8")) from None
    rows = [r for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r)]

    def numeric(r: list[str]) -> bool:
        try:
            return all(math.isfinite(float(c)) for c in r[:len(names) - 1])
        except ValueError:
            return False

    if rows and not numeric(rows[0]):
        rows = rows[1:]  # a header
    for i, r in enumerate(rows, start=1):
        if len(r) != len(names) or not numeric(r):
            raise UserError(t("lab.csv_bad_row", row=i, text=repr(','.join(r)[:60]), columns=want,
                              numbers=len(names) - 1))
    if not min_rows <= len(rows) <= max_rows:
        raise UserError(t("lab.csv_rows", rows=len(rows), min=min_rows, max=max_rows))
    return [[c.strip() for c in r] for r in rows]

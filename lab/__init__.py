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

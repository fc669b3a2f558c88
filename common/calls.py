"""Wrapping an event handler that may be a plain function or a generator (a streaming one) in a context."""
from __future__ import annotations

import functools
import inspect
from contextlib import AbstractContextManager
from typing import Callable


def within(fn: Callable, context: Callable[..., AbstractContextManager], *, extra_first: bool = False) -> Callable:
    """``fn`` called inside ``context(*args, **kwargs)``, entered for each call and, for a generator function, held
    while it streams (so the result is a generator function again: Gradio streams it). With ``extra_first`` the
    result takes one more leading argument, which ``context`` gets and ``fn`` does not."""
    def split(args: tuple) -> tuple[tuple, tuple]:
        return (args, args[1:]) if extra_first else (args, args)

    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def stream(*args, **kwargs):
            context_args, fn_args = split(args)
            with context(*context_args, **kwargs):
                yield from fn(*fn_args, **kwargs)
        return stream

    @functools.wraps(fn)
    def call(*args, **kwargs):
        context_args, fn_args = split(args)
        with context(*context_args, **kwargs):
            return fn(*fn_args, **kwargs)
    return call

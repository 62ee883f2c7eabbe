"""The exercise checker of chapter 00 (getting started): a numerically stable softmax.

* :func:`check_stable_softmax`: ``stable_softmax(x)``, softmax over the last axis of any-rank ``x``.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .core import ReaderFunction, check_cases

__all__ = ["check_stable_softmax", "reference_stable_softmax"]


def reference_stable_softmax(x: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, computed without overflow."""
    z = np.asarray(x, dtype=float)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def check_stable_softmax(fn: Callable[[np.ndarray], np.ndarray]) -> None:
    """Check a reader's ``stable_softmax(x)``: softmax over the last axis of any-rank ``x``."""
    cases = [
        ("small logits [1, 2, 3]", (np.array([1.0, 2.0, 3.0]),)),
        ("equal logits give a uniform distribution", (np.zeros(4),)),
        ("large logits [1000, 1001, 1002] (exp overflows without a shift)", (np.array([1000.0, 1001.0, 1002.0]),)),
        ("very negative logits [-1000, -1001]", (np.array([-1000.0, -1001.0]),)),
        ("a batch of 2 rows: softmax over the LAST axis", (np.array([[1.0, 2.0, 3.0], [3.0, 0.0, -3.0]]),)),
        ("two rows far apart [[0, 1], [-1000, -999]]", (np.array([[0.0, 1.0], [-1000.0, -999.0]]),)),
    ]
    cases = [(d, args, reference_stable_softmax(*args)) for d, args in cases]

    def error_hint(description, err):
        if "broadcast" in str(err):
            return "keep the reduced axis: np.max(x, axis=-1, keepdims=True), and the same for the sum."
        return None

    def hint(description, got, expected):
        if "far apart" in description:
            return ("each row needs its own maximum: np.max(x, axis=-1, keepdims=True), not the "
                    "maximum of the whole array, which leaves exp(-1000) = 0 in the second row.")
        if "large" in description or "negative" in description:
            return "does exp overflow or underflow? Subtract the maximum of each row before exp."
        if "batch" in description and np.shape(got) == np.shape(expected):
            if np.allclose(np.sum(got), 1.0):
                return "all entries sum to 1 together: normalise each row (axis=-1, keepdims=True)."
            return "use axis=-1 and keepdims=True for both the max and the sum."
        return None

    run = ReaderFunction(fn, "stable_softmax", ("x",))
    check_cases(run, cases, name="stable_softmax", hint=hint, error_hint=error_hint)

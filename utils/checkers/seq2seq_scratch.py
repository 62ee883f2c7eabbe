"""Exercise checker for chapter 02's NumPy seq2seq (utils/scratch/seq2seq.py).

* :func:`check_context_gradient`: where the gradient of the context vector enters the encoder.
  The encoder's context vector is h_T *at each row's own last token* (a padded batch has
  rows of different lengths), so dL/dh_T and dL/dc_T must be placed at step
  ``src_lengths[b] - 1`` of row b, and nowhere else.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .core import check_cases, compare_tuple

__all__ = ["reference_context_gradient", "check_context_gradient"]


def reference_context_gradient(dh_T: np.ndarray, dc_T: np.ndarray, src_lengths: np.ndarray, src_len: int):
    """(dh, dc), each (batch, src_len, hidden): zero except row b's step src_lengths[b] - 1."""
    dh_T, dc_T = np.asarray(dh_T, dtype=float), np.asarray(dc_T, dtype=float)
    batch, hidden = dh_T.shape
    dh, dc = np.zeros((batch, src_len, hidden)), np.zeros((batch, src_len, hidden))
    rows, last = np.arange(batch), np.asarray(src_lengths) - 1
    dh[rows, last], dc[rows, last] = dh_T, dc_T
    return dh, dc


def check_context_gradient(fn: Callable) -> None:
    """Check a reader's ``context_gradient(dh_T, dc_T, src_lengths, src_len) -> (dh, dc)``."""
    rng = np.random.default_rng(0)
    cases = []
    for description, lengths, src_len in (
        ("one row, no padding", [4], 4),
        ("three rows of lengths 3, 5, 2 padded to 5", [3, 5, 2], 5),
        ("every row shorter than src_len = 6 (lengths 4, 1)", [4, 1], 6),
    ):
        dh_T, dc_T = rng.normal(size=(len(lengths), 3)), rng.normal(size=(len(lengths), 3))
        args = (dh_T, dc_T, np.array(lengths), src_len)
        cases.append((description, args, reference_context_gradient(*args)))

    def hint(description, got, expected):
        dh_T, dc_T, lengths, src_len = next(args for d, args, _ in cases if d == description)
        got_dh, got_dc = (np.asarray(g, dtype=float) for g in got)
        batch, hidden = dh_T.shape
        at_end = np.zeros((batch, src_len, hidden))
        at_end[:, -1] = dh_T
        if got_dh.shape == at_end.shape and np.allclose(got_dh, at_end) and not np.allclose(at_end, expected[0]):
            return ("you put dh_T at the last column for every row: a padded row's context vector is its state at "
                    "its own last real token, step src_lengths[b] - 1.")
        shifted = np.zeros((batch, src_len, hidden))
        ok = lengths < src_len
        shifted[np.arange(batch)[ok], lengths[ok]] = dh_T[ok]
        if got_dh.shape == shifted.shape and np.allclose(got_dh, shifted):
            return "off by one: a row of length n ends at index n - 1 (steps are counted from 0)."
        if got_dh.shape == expected[0].shape and np.allclose(got_dh, expected[1]) and np.allclose(got_dc, expected[0]):
            return "dh and dc are swapped: return (dh, dc) in that order."
        if got_dh.shape == expected[0].shape and np.allclose(got_dc, 0) and np.any(expected[1]):
            return ("dc is all zero: the decoder also starts from the encoder's last cell state c_T, so dL/dc_T "
                    "goes back in at the same step as dL/dh_T.")
        return None

    check_cases(fn, cases, name="context_gradient", compare=compare_tuple(("dh", "dc")), hint=hint,
                arg_names=("dh_T", "dc_T", "src_lengths", "src_len"))

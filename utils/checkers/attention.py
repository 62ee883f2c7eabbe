"""Exercise checkers for chapter 03 (alignment and the context vector).

Each checker runs the reader's function on several cases and compares it with the reference
layers of :mod:`utils.scratch.attention`. When a case fails it says which case, what was expected and
what came back, and, where the wrong answer matches a common mistake, names the mistake.

* :func:`check_attention_weight_forward`: ``fn(hs, s, mask) -> a``;
* :func:`check_weighted_sum_backward`: ``fn(hs, a, dc) -> (dhs, da)``;
* :func:`check_attention_weight_backward`: ``fn(hs, s, a, da) -> (dhs, ds)``.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..scratch.attention import AttentionWeight, WeightedSum
from .core import check_cases, compare_tuple, is_close

__all__ = [
    "check_attention_weight_forward",
    "check_weighted_sum_backward",
    "check_attention_weight_backward",
]


def _states(seed: int, batch: int, src_len: int, hidden: int, scale: float = 1.0):
    rng = np.random.default_rng(seed)
    hs = rng.standard_normal((batch, src_len, hidden)) * scale  # (batch, src_len, hidden)
    s = rng.standard_normal((batch, hidden))  # (batch, hidden)
    return hs, s


def _padding_mask(lengths, src_len: int) -> np.ndarray:
    return np.arange(src_len)[None, :] < np.asarray(lengths)[:, None]  # (batch, src_len)


def _reference_attention_weight(hs, s, mask=None):
    return AttentionWeight().forward(hs, s, mask)


# ------------------------------------------------------------------ forward of Attention Weight
def check_attention_weight_forward(fn: Callable) -> None:
    """Check ``fn(hs, s, mask) -> a``: dot scores ``e_j = h_j . s``, softmax over ``j``.

    hs ``(batch, src_len, hidden)``, s ``(batch, hidden)``, mask ``(batch, src_len)`` bool
    (True = allowed) or None; a ``(batch, src_len)``, zeros for a fully masked row.
    """
    one_hs = np.array([[[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]]])  # (1, 3, 2)
    one_s = np.array([[0.0, 1.0]])  # (1, 2)
    batch_hs, batch_s = _states(1, 3, 4, 5)
    big_hs, big_s = _states(2, 2, 4, 3, scale=400.0)
    pad_hs, pad_s = _states(3, 3, 5, 4)
    pad_mask = _padding_mask([5, 3, 1], 5)
    full_mask = _padding_mask([4, 0], 4)
    full_hs, full_s = _states(4, 2, 4, 3)
    inputs = [
        ("one example, 3 source positions, no mask", (one_hs, one_s, None)),
        ("a batch of 3, no mask: softmax over the source positions of each example", (batch_hs, batch_s, None)),
        ("large scores (exp overflows unless you subtract the row maximum)", (big_hs, big_s, None)),
        ("padding mask: sources of lengths 5, 3 and 1", (pad_hs, pad_s, pad_mask)),
        ("a fully masked row must give zeros, not NaN", (full_hs, full_s, full_mask)),
    ]
    cases = [(d, args, _reference_attention_weight(*args)) for d, args in inputs]

    def hint(description, got, expected):
        hs, s, mask = dict(inputs)[description]
        got_arr = np.asarray(got, dtype=float) if np.shape(got) == np.shape(expected) else None
        scores = (hs * s[:, None, :]).sum(axis=2)  # (batch, src_len)
        if got_arr is None:
            return "a has shape (batch, src_len): one weight per source position of each example."
        # A row with nothing allowed comes first: its mistakes (NaN from 0/0, or the uniform
        # weights that a large negative fill such as -1e9 gives when *every* score is filled)
        # would otherwise be reported as a masking mistake, though the reader did mask.
        empty_rows = None if mask is None else ~mask.any(axis=1)  # (batch,)
        if empty_rows is not None and empty_rows.any():
            if not np.all(np.isfinite(got_arr[empty_rows])):
                return ("a row with no allowed position gives 0/0; return zeros for it "
                        "(e.g. np.divide(..., where=total > 0)).")
            if np.any(np.abs(got_arr[empty_rows]) > 1e-9):
                return ("a row with nothing allowed must give zeros, not a uniform distribution: when every score "
                        "of a row is filled with the same large negative number, the softmax spreads the weight "
                        "evenly; detect rows with no allowed position and return zeros for them.")
        if not np.all(np.isfinite(got_arr)):
            return "subtract each row's maximum score before np.exp."
        if is_close(got_arr, scores):
            return "these are the raw scores e_j; apply the softmax over the source positions."
        if is_close(got_arr, _reference_attention_weight(hs, s / np.sqrt(hs.shape[2]), mask)):
            return ("you divided the scores by sqrt(hidden): that is scaled dot-product attention (chapter 04); "
                    "this chapter's score is the plain dot product e_j = h_j . s.")
        if is_close(got_arr.sum(axis=0), np.ones(got_arr.shape[1])):
            return "your weights sum to 1 over the batch axis; the softmax runs over the source positions (axis=1)."
        if mask is not None and np.any(np.abs(got_arr[~mask]) > 1e-9):
            return "masked (padding) positions must get weight exactly 0: set their scores to -inf before the softmax."
        if mask is not None:
            return "the softmax over the allowed positions must sum to 1; do not mask after normalising."
        return None

    check_cases(fn, cases, name="attention_weight_forward", hint=hint, arg_names=("hs", "s", "mask"))


# ------------------------------------------------------------------ backward of Weighted Sum
def check_weighted_sum_backward(fn: Callable) -> None:
    """Check ``fn(hs, a, dc) -> (dhs, da)``, the backward pass of ``c = sum_j a_j h_j``.

    hs ``(batch, src_len, hidden)``, a ``(batch, src_len)``, dc ``(batch, hidden)``;
    returns dhs ``(batch, src_len, hidden)`` and da ``(batch, src_len)``.
    """
    inputs = []
    for description, seed, batch, src_len, hidden in [
        ("one example, 3 source positions, hidden 2", 10, 1, 3, 2),
        ("a batch of 2, 4 source positions, hidden 3", 11, 2, 4, 3),
        ("a batch of 3, 5 source positions, hidden 5 (src_len == hidden)", 12, 3, 5, 5),
    ]:
        rng = np.random.default_rng(seed)
        hs = rng.standard_normal((batch, src_len, hidden))
        a = _reference_attention_weight(hs, rng.standard_normal((batch, hidden)))
        dc = rng.standard_normal((batch, hidden))
        inputs.append((description, (hs, a, dc)))

    def reference(hs, a, dc):
        layer = WeightedSum()
        layer.forward(hs, a)
        return layer.backward(dc)

    cases = [(d, args, reference(*args)) for d, args in inputs]

    def hint(description, got, expected):
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            return "return both gradients: (dhs, da)."
        hs, a, dc = dict(inputs)[description]
        dhs, da = got
        if is_close(dhs, expected[1]) or is_close(da, expected[0]):
            return "the pair is in the wrong order: return (dhs, da)."
        if np.shape(da) == np.shape(expected[1]) and is_close(da, hs.sum(axis=2)):
            return "da_j = h_j . dc: multiply by the upstream gradient dc before summing over hidden."
        if np.shape(da) == np.shape(expected[1]) and is_close(da, a * expected[1]):
            return ("da_j = h_j . dc, without a factor a_j: c = sum_j a_j h_j is linear in a_j, "
                    "so dc/da_j = h_j (the weight a_j belongs in dhs_j = a_j * dc).")
        if np.shape(dhs) == np.shape(expected[0]) and is_close(dhs, np.broadcast_to(dc[:, None, :], hs.shape)):
            return "dhs_j = a_j * dc: each encoder state gets the upstream gradient scaled by its weight."
        if np.shape(dhs) != np.shape(expected[0]):
            return "dhs has the shape of hs, (batch, src_len, hidden)."
        if np.shape(da) != np.shape(expected[1]):
            return "da has the shape of a, (batch, src_len): sum h_j * dc over the hidden axis."
        return None

    check_cases(fn, cases, name="weighted_sum_backward", compare=compare_tuple(("dhs", "da")), hint=hint,
                arg_names=("hs", "a", "dc"))


# ------------------------------------------------------------------ backward of Attention Weight
def check_attention_weight_backward(fn: Callable) -> None:
    """Check ``fn(hs, s, a, da) -> (dhs, ds)``, the backward pass of ``a = softmax_j(h_j . s)``.

    hs ``(batch, src_len, hidden)``, s ``(batch, hidden)``, a ``(batch, src_len)`` (the forward
    output), da ``(batch, src_len)``; returns dhs ``(batch, src_len, hidden)`` and ds
    ``(batch, hidden)``.
    """
    inputs = []
    for description, seed, batch, src_len, hidden, lengths in [
        ("one example, 3 source positions, hidden 2", 20, 1, 3, 2, None),
        ("a batch of 2, 4 source positions, hidden 3", 21, 2, 4, 3, None),
        ("a batch of 3 with padding (lengths 5, 2, 4); a from the masked forward", 22, 3, 5, 4, [5, 2, 4]),
    ]:
        rng = np.random.default_rng(seed)
        hs = rng.standard_normal((batch, src_len, hidden))
        s = rng.standard_normal((batch, hidden))
        mask = None if lengths is None else _padding_mask(lengths, src_len)
        a = _reference_attention_weight(hs, s, mask)
        da = rng.standard_normal((batch, src_len))
        inputs.append((description, (hs, s, a, da), mask))

    def reference(hs, s, a, da, mask):
        layer = AttentionWeight()
        layer.forward(hs, s, mask)
        return layer.backward(da)

    cases = [(d, args, reference(*args, mask)) for d, args, mask in inputs]
    by_description = {d: args for d, args, _ in inputs}

    def hint(description, got, expected):
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            return "return both gradients: (dhs, ds)."
        hs, s, a, da = by_description[description]
        dhs, ds = got
        if is_close(dhs, -expected[0]) or (is_close(dhs, expected[0]) and is_close(ds, -expected[1])):
            return ("the sign is flipped: de_j = a_j * (da_j - sum_k a_k da_k), "
                    "not a_j * (sum_k a_k da_k - da_j).")
        de_unweighted = a * (da - da.sum(axis=1, keepdims=True))  # (batch, src_len): sum_k da_k
        if is_close(dhs, de_unweighted[:, :, None] * s[:, None, :]):
            return ("the sum inside is weighted by the attention: de_j = a_j * (da_j - sum_k a_k da_k), "
                    "not sum_k da_k (it is the expected value of da under a).")
        if is_close(dhs, np.broadcast_to(a[:, :, None] * da[:, :, None] * s[:, None, :], hs.shape)):
            return ("you used de_j = a_j * da_j; the softmax couples the positions: "
                    "de_j = a_j * (da_j - sum_k a_k da_k).")
        if is_close(dhs, (a * (1 - a) * da)[:, :, None] * s[:, None, :]):
            return ("you kept only the diagonal of the softmax Jacobian, a_j (1 - a_j); "
                    "the full backward is de_j = a_j * (da_j - sum_k a_k da_k).")
        if is_close(dhs, (da[:, :, None] * s[:, None, :])):
            return "you skipped the softmax: first de = a * (da - sum(a * da)), then dhs_j = de_j * s."
        if is_close(dhs, expected[0]) and np.shape(ds) != np.shape(expected[1]):
            return "ds has the shape of s, (batch, hidden): sum de_j * h_j over the source positions j."
        if is_close(dhs, expected[0]):
            return "dhs is right; ds = sum_j de_j h_j (sum over axis 1, the source positions)."
        return None

    check_cases(fn, cases, name="attention_weight_backward", compare=compare_tuple(("dhs", "ds")), hint=hint,
                arg_names=("hs", "s", "a", "da"))

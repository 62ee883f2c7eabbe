"""Exercise checkers for chapter 04 (Bahdanau vs Luong: score functions and local attention).

Each checker runs the reader's function on several cases, compares it with the reference
layers of :mod:`utils.scratch.scores` and, when the answer equals what a common mistake
gives, names the mistake:

* :func:`check_general_score`: ``fn(query, keys, W) -> scores``, Luong's ``e_tj = q_t W k_j^T``;
* :func:`check_general_score_backward`: ``fn(query, keys, W, dscores) -> (dquery, dkeys, dW)``;
* :func:`check_local_p_weights`: ``fn(scores, centres, D, mask) -> weights``, local-p's window
  (exactly 0 outside ``|j - p_t| <= D``, a softmax inside it times the Gaussian with sigma = D/2).

Calling and comparing are :mod:`.core`'s: ``check_cases`` runs the reader's function through a
``ReaderFunction`` (copies of the inputs, one time budget, an input changed in place named by
its argument name), ``compare_arrays`` / ``compare_tuple`` say what differs, ``is_close`` tests
each known mistake.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..scratch.scores import GeneralScore, local_p_weights, softmax
from .core import as_array, check_cases, compare_arrays, compare_tuple, is_close

__all__ = ["check_general_score", "check_general_score_backward", "check_local_p_weights"]


def _first_mistake(got, mistakes) -> str | None:
    """The message of the first ``(value_fn, message)`` whose value equals ``got`` (core.is_close)."""
    for make_value, message in mistakes:
        try:
            value = make_value()
        except (ValueError, IndexError):  # that mistake cannot even be computed for these shapes
            continue
        if is_close(got, value):
            return message
    return None


def _general_inputs(seed: int, batch: int, tgt_len: int, src_len: int, query_size: int, key_size: int):
    rng = np.random.default_rng(seed)
    query = rng.standard_normal((batch, tgt_len, query_size))  # (B, T, Dq)
    keys = rng.standard_normal((batch, src_len, key_size))  # (B, S, Dk)
    W = rng.standard_normal((query_size, key_size))  # (Dq, Dk)
    dscores = rng.standard_normal((batch, tgt_len, src_len))  # (B, T, S)
    return query, keys, W, dscores


_GENERAL_CASES = [
    ("one query and 3 keys, Dq = Dk = 2", 40, 1, 1, 3, 2, 2),
    ("a batch of 2, 3 queries, 4 keys, Dq = Dk = 3 (a square W)", 41, 2, 3, 4, 3, 3),
    ("a batch of 2, 3 queries, 5 keys, Dq = 4, Dk = 6 (W is 4 x 6)", 42, 2, 3, 5, 4, 6),
    ("tgt_len == src_len == 4, Dq = 3, Dk = 5", 43, 3, 4, 4, 3, 5),
]


def _general_forward(query, keys, W):
    layer = GeneralScore(W.shape[0], W.shape[1])
    layer.params["W"] = W
    return layer.forward(query, keys)


# ------------------------------------------------------------------ the general score, forward
def check_general_score(fn: Callable) -> None:
    """Check ``fn(query, keys, W) -> scores``: ``e_tj = q_t W k_j^T``.

    query ``(batch, tgt_len, Dq)``, keys ``(batch, src_len, Dk)``, W ``(Dq, Dk)`` ->
    scores ``(batch, tgt_len, src_len)``.
    """
    inputs = {}
    cases = []
    for description, seed, B, T, S, Dq, Dk in _GENERAL_CASES:
        query, keys, W, _ = _general_inputs(seed, B, T, S, Dq, Dk)
        inputs[description] = (query, keys, W)
        cases.append((description, (query, keys, W), _general_forward(query, keys, W)))

    def hint(description, got, expected):
        query, keys, W = inputs[description]
        if isinstance(got, Exception):
            if "shape" in str(got) or "align" in str(got) or "broadcast" in str(got):
                return ("W is (Dq, Dk): map the keys with keys @ W.T, shape (batch, src_len, Dq), "
                        "then query @ mapped.transpose(0, 2, 1) (or np.einsum('btq,qk,bsk->bts', query, W, keys)).")
            return None
        mistakes = [
            (lambda: np.swapaxes(expected, 1, 2),
             ("your scores are (batch, src_len, tgt_len); the course's layout is (batch, tgt_len, src_len): "
             "row t holds query t's scores against every key.")),
            (lambda: np.einsum("btk,qk,bsq->bts", query, W, keys),
             ("you used W transposed: e_tj = q_t W k_j^T with W of shape (Dq, Dk), so W sits between the query "
             "(on its left) and the key (on its right); map the keys with keys @ W.T, not keys @ W.")),
            (lambda: query @ np.swapaxes(keys, 1, 2),
             "these are the plain dot scores q_t . k_j: the general score puts the learned W in between."),
            (lambda: expected / np.sqrt(keys.shape[2]),
             "you divided by sqrt(Dk): that is the scaled dot product; the general score is not scaled."),
            (lambda: expected / np.sqrt(query.shape[2]),
             "you divided by sqrt(Dq): the general score is not scaled."),
            (lambda: softmax(expected),
             "you applied the softmax: this function returns the raw scores e_tj; the softmax comes after it."),
        ]
        found = _first_mistake(got, mistakes)
        if found:
            return found
        if np.shape(got) != expected.shape:
            return "scores have shape (batch, tgt_len, src_len): one score per query and key."
        return None

    check_cases(fn, cases, name="general_score", hint=hint, arg_names=("query", "keys", "W"))


# ------------------------------------------------------------------ the general score, backward
def _general_backward_reference(query, keys, W, dscores):
    layer = GeneralScore(W.shape[0], W.shape[1])
    layer.params["W"] = W
    layer.forward(query, keys)
    dquery, dkeys = layer.backward(dscores)
    return dquery, dkeys, layer.grads["W"].copy()


def check_general_score_backward(fn: Callable) -> None:
    """Check ``fn(query, keys, W, dscores) -> (dquery, dkeys, dW)`` for ``e_tj = q_t W k_j^T``.

    query ``(batch, tgt_len, Dq)``, keys ``(batch, src_len, Dk)``, W ``(Dq, Dk)``, dscores
    ``(batch, tgt_len, src_len)``; returns gradients shaped like query, keys and W (dW summed
    over the batch, since one W serves every example).
    """
    inputs = {}
    cases = []
    for description, seed, B, T, S, Dq, Dk in _GENERAL_CASES:
        args = _general_inputs(seed, B, T, S, Dq, Dk)
        inputs[description] = args
        cases.append((description, args, _general_backward_reference(*args)))

    def hint(description, got, expected):
        query, keys, W, dscores = inputs[description]
        if isinstance(got, Exception):
            return None
        if not isinstance(got, (tuple, list)) or len(got) != 3:
            return "return the three gradients as a tuple: (dquery, dkeys, dW)."
        dquery, dkeys, dW = got
        exp_dquery, exp_dkeys, exp_dW = expected
        if is_close(dquery, exp_dkeys) or is_close(dkeys, exp_dquery) or is_close(dW, exp_dquery):
            return "the gradients are in the wrong order: return (dquery, dkeys, dW)."
        if not is_close(dquery, exp_dquery):
            return _first_mistake(dquery, [
                (lambda: dscores @ keys,
                 ("dquery: you left out W. e_tj = q_t . (W k_j), so dquery_t = sum_j de_tj (W k_j): "
                 "dscores @ (keys @ W.T).")),
                (lambda: dscores @ keys @ W.T,
                 ("dquery: W enters un-transposed; dquery = dscores @ (keys @ W.T), i.e. keys mapped by W "
                 "(keys @ W.T, shape (batch, src_len, Dq)).")),
                (lambda: dscores @ (keys @ W),
                 "dquery: the keys are mapped by W as keys @ W.T (shape (batch, src_len, Dq)), not keys @ W."),
            ]) or "dquery_t = sum_j de_tj W k_j: dscores @ (keys @ W.T), shape (batch, tgt_len, Dq)."
        if not is_close(dkeys, exp_dkeys):
            return _first_mistake(dkeys, [
                (lambda: np.swapaxes(dscores, 1, 2) @ query,
                 "dkeys: you left out W. dkeys_j = sum_t de_tj W^T q_t: (dscores^T @ query) @ W."),
                (lambda: dscores @ query @ W,
                 "dkeys: sum over the queries t, i.e. use dscores transposed to (batch, src_len, tgt_len)."),
                (lambda: np.swapaxes(dscores, 1, 2) @ query @ W.T,
                 "dkeys: multiply by W, not W.T: dkeys = (dscores^T @ query) @ W, shape (batch, src_len, Dk)."),
            ]) or "dkeys_j = sum_t de_tj W^T q_t: (dscores.transpose(0, 2, 1) @ query) @ W."
        per_example = np.einsum("btq,bts,bsk->bqk", query, dscores, keys)  # (B, Dq, Dk)
        return _first_mistake(dW, [
            (lambda: per_example,
             "dW: one W serves every example of the batch, so sum the per-example gradients (shape (Dq, Dk))."),
            (lambda: per_example.mean(axis=0),
             "dW: sum over the batch, do not average (the loss is a sum; the other gradients are not averaged)."),
            (lambda: exp_dW.T,
             "dW is transposed: it has W's shape (Dq, Dk): dW = sum_b,t,j de_tj q_t k_j^T."),
            (lambda: np.einsum("btq,bsk->qk", query, keys) * dscores.sum(),
             "dW: weight each outer product q_t k_j^T by its own de_tj: np.einsum('btq,bts,bsk->qk', ...)."),
        ]) or "dW = sum over b, t, j of de_tj q_t k_j^T: np.einsum('btq,bts,bsk->qk', query, dscores, keys)."

    check_cases(fn, cases, name="general_score_backward", compare=compare_tuple(("dquery", "dkeys", "dW")), hint=hint,
                arg_names=("query", "keys", "W", "dscores"))


# ------------------------------------------------------------------ local-p's window
def _local_cases():
    cases = []
    rng = np.random.default_rng(50)
    scores = rng.standard_normal((1, 1, 9))
    cases.append(("one query, 9 positions, p_t = 4 (the middle), D = 2: window 2..6", scores,
                  np.array([[4.0]]), 2, None))
    scores = rng.standard_normal((2, 3, 12))
    cases.append(("a batch of 2 x 3 queries, 12 positions, real-valued p_t, D = 2", scores,
                  np.array([[5.3, 1.5, 8.8], [2.0, 6.6, 9.4]]), 2, None))
    scores = rng.standard_normal((1, 2, 10))
    cases.append(("p_t near the edges (0.4 and 8.7), D = 3: the window is cut at 0 and 9", scores,
                  np.array([[0.4, 8.7]]), 3, None))
    scores = rng.standard_normal((2, 2, 8)) * 3
    mask = np.arange(8)[None, :] < np.array([8, 5])[:, None]  # (2, 8): second source has 5 real positions
    cases.append(("padding: the second source has 5 real positions of 8, D = 2", scores,
                  np.array([[3.0, 6.2], [3.5, 4.0]]), 2, mask))
    scores = rng.standard_normal((1, 1, 15)) * 2
    cases.append(("a wide window, D = 4, p_t = 7.25", scores, np.array([[7.25]]), 4, None))
    return cases


def check_local_p_weights(fn: Callable) -> None:
    """Check ``fn(scores, centres, D, mask) -> weights``: Luong's local-p weights.

    scores ``(batch, tgt_len, src_len)``, centres ``(batch, tgt_len)`` (p_t, 0-based, real),
    D int, mask None or ``(batch, src_len)`` bool (True = real position). The weights are
    exactly 0 outside the window ``|j - p_t| <= D`` (and at padding); inside it, the softmax of
    the scores over the window's positions, times ``exp(-(j - p_t)^2 / (2 sigma^2))`` with
    ``sigma = D / 2``, not renormalised.
    """
    raw = _local_cases()
    inputs = {d: (scores, centres, D, mask) for d, scores, centres, D, mask in raw}
    cases = [(d, args, local_p_weights(*args)) for d, args in inputs.items()]

    def hint(description, got, expected):
        scores, centres, D, mask = inputs[description]
        if isinstance(got, Exception):
            return None
        if np.shape(got) != expected.shape:
            return "weights have the scores' shape (batch, tgt_len, src_len)."
        got_arr = as_array(got, expected.shape)  # None when it holds NaN or inf
        S = scores.shape[2]
        j = np.arange(S)[None, None, :]
        distance = j - centres[:, :, None]  # (B, T, S)
        padding = np.ones(scores.shape, bool) if mask is None else np.broadcast_to(mask[:, None, :], scores.shape)
        window = (np.abs(distance) <= D) & padding

        def gaussian(sigma, two=2.0):
            return np.exp(-distance**2 / (two * sigma**2))

        if got_arr is None:
            return "NaN or inf: subtract each row's maximum (over the window) before np.exp."
        rounded = (np.abs(j - np.floor(centres[:, :, None] + 0.5)) <= D) & padding
        if np.any(rounded != window) and is_close(got_arr, softmax(scores, rounded) * gaussian(D / 2)):
            return ("your window is centred on round(p_t); the window is |j - p_t| <= D around the real-valued p_t "
                    "(Luong's [p_t - D, p_t + D]).")
        if np.any(got_arr[~window] != 0):
            if mask is not None and np.all(got_arr[np.abs(distance) > D] == 0):
                return "padding positions inside the window got weight: combine the window with the padding mask."
            return ("positions outside the window |j - p_t| <= D must get weight exactly 0 (not a small number): "
                    "softmax over the window only (set the scores outside it to -inf, or select the window's "
                    "positions) before multiplying by the Gaussian.")
        g = gaussian(D / 2)
        mistakes = [
            (lambda: softmax(scores, window),
             ("the Gaussian is missing: local-p multiplies the window's softmax weights by "
             "exp(-(j - p_t)^2 / (2 sigma^2)), sigma = D / 2.")),
            (lambda: softmax(scores, window) * gaussian(D),
             "sigma is D / 2, not D: the Gaussian is narrower than the window (two sigmas on each side)."),
            (lambda: softmax(scores, window) * gaussian(D / 2, two=1.0),
             "the exponent is -(j - p_t)^2 / (2 sigma^2): you dropped the 2."),
            (lambda: softmax(scores, window) * gaussian(np.sqrt(D / 2)),
             "sigma = D / 2 is a standard deviation: the exponent divides by 2 sigma^2 = D^2 / 2, not by 2 * (D/2)."),
            (lambda: _renormalised(softmax(scores, window) * g),
             ("do not renormalise after the Gaussian: Luong's weights are softmax x Gaussian, and a row sums to "
             "less than 1.")),
            (lambda: softmax(scores, np.broadcast_to(padding, scores.shape)) * g * window,
             ("the softmax ran over every source position and was cut to the window afterwards; normalise over "
             "the window's positions only (scores outside it to -inf before the softmax).")),
            (lambda: softmax(scores * g, window),
             "the Gaussian multiplies the weights after the softmax, not the scores before it."),
            (lambda: softmax(scores + np.log(np.maximum(g, 1e-300)), window),
             "the Gaussian multiplies the weights after the softmax (and is not renormalised)."),
        ]
        found = _first_mistake(got_arr, mistakes)
        if found:
            return found
        if np.any(got_arr[window] == 0) and np.all(np.abs(distance)[got_arr > 0] < D):
            return ("the window is |j - p_t| <= D, edges included: 2D + 1 positions when p_t is a whole number "
                    "(you kept |j - p_t| < D).")
        return None

    check_cases(fn, cases, name="local_p_weights", compare=_compare_exact_zeros, hint=hint,
                arg_names=("scores", "centres", "D", "mask"))


def _compare_exact_zeros(got, expected) -> str | None:
    """compare_arrays, and the positions outside the window must be exactly 0, not merely tiny."""
    problem = compare_arrays(got, expected)
    if problem:
        return problem
    got = as_array(got, np.shape(expected))  # compare_arrays passed: same shape, finite
    leaked = (expected == 0) & (got != 0)
    if leaked.any():
        where = tuple(int(i) for i in np.argwhere(leaked)[0])
        return (f"{int(leaked.sum())} positions outside the window (or at padding) got a tiny weight instead of "
                f"exactly 0, e.g. {got[where]:.1e} at index {where}")
    return None


def _renormalised(weights: np.ndarray) -> np.ndarray:
    total = weights.sum(axis=-1, keepdims=True)
    return np.divide(weights, total, out=np.zeros_like(weights), where=total > 0)

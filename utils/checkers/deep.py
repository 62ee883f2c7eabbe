"""Exercise checkers for chapter 07 (deep seq2seq, skip connections, beam search).

Each checker runs the reader's function on several cases and compares it with a reference.
When a case fails it says which case, what was expected and what came back, and, where the
wrong answer matches a common mistake, names the mistake.

* :func:`check_residual_backward`: ``fn(x, W, b, dy) -> (dx, dW, db)`` for the residual block
  ``y = x + tanh(x W^T + b)``;
* :func:`check_beam_step`: ``fn(beam_scores, finished, next_log_probs, beam_size, eos_id)
  -> (scores, parents, tokens)``, one step of beam search;
* :func:`check_length_normalisation`: ``fn(log_probs, lengths, alpha) -> scores``,
  ``log_prob / length ** alpha``.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..scratch.residual import Residual, TanhDense
from .core import check_cases, compare_tuple, is_close

__all__ = [
    "check_beam_step",
    "check_length_normalisation",
    "check_residual_backward",
    "reference_beam_step",
    "reference_length_normalisation",
    "reference_residual_backward",
]


# ------------------------------------------------------------------ residual block backward
def reference_residual_backward(x, W, b, dy):
    """Gradients of y = x + tanh(x W^T + b): x (batch, D), W (D, D), b (D,), dy (batch, D).

    Returns (dx (batch, D), dW (D, D), db (D,)), computed with :class:`utils.scratch.residual.Residual`.
    """
    block = Residual(TanhDense(W.shape[0]))
    block.params["W"][...] = W
    block.params["b"][...] = b
    block.forward(x)
    dx = block.backward(dy)
    return dx, block.grads["W"].copy(), block.grads["b"].copy()


def check_residual_backward(fn: Callable) -> None:
    """Check ``fn(x, W, b, dy) -> (dx, dW, db)`` for the block ``y = x + tanh(x W^T + b)``.

    x and dy ``(batch, D)``, W ``(D, D)`` (applied as ``x @ W.T``), b ``(D,)``; the weight
    gradients are summed over the batch.
    """
    def case(seed, batch, size, scale=1.0):
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((batch, size))
        W = rng.standard_normal((size, size)) * scale  # not symmetric: W and W.T differ
        b = rng.standard_normal(size) * 0.5
        dy = rng.standard_normal((batch, size))
        return x, W, b, dy

    inputs = [
        ("one example, D = 2", case(0, 1, 2)),
        ("a batch of 4, D = 3 (the weight gradients sum over the batch)", case(1, 4, 3)),
        ("a batch of 5, D = 4, large weights (tanh saturates)", case(2, 5, 4, scale=2.0)),
    ]
    cases = [(d, args, reference_residual_backward(*args)) for d, args in inputs]

    def hint(description, got, expected):
        if isinstance(got, Exception):
            if "shapes" in str(got) or "broadcast" in str(got) or "aligned" in str(got):
                return ("check the shapes: with x (batch, D) and W (D, D) used as x @ W.T, "
                        "da = dy * (1 - F**2) is (batch, D), dx = dy + da @ W, dW = da.T @ x, db = da.sum(axis=0).")
            return None
        if not isinstance(got, (tuple, list)) or len(got) != 3:
            return "return the three gradients as a tuple (dx, dW, db)."
        x, W, b, dy = dict(inputs)[description]
        dx, dW, db = got
        F = np.tanh(x @ W.T + b)  # (batch, D)
        y = x + F
        da = dy * (1 - F**2)  # (batch, D): through tanh
        wrong_dx = {
            "da @ W": ("the skip path is missing: y = x + F(x), so dx = dy + (gradient through F); "
                       "the addition hands dy to x unchanged."),
            "dy": ("you returned only the skip path's dy; x also feeds F, so add the gradient through F: "
                   "dy * (1 - F(x)**2) @ W."),
            "dy + dy @ W": ("the gradient through F must go through tanh too: multiply dy by tanh' = 1 - F(x)**2 "
                            "before @ W."),
            "dy + (dy * (1 - y**2)) @ W": ("tanh' is 1 - F(x)**2 with F(x) = tanh(x W^T + b), "
                                           "not 1 - y**2 with the block's output y = x + F(x)."),
            "dy + da @ W.T": "F reads x @ W.T, so its input gradient is da @ W, not da @ W.T.",
            "dy + 2 * da @ W": "the skip path adds dy once, and F's path adds da @ W once.",
        }
        candidates = {
            "da @ W": da @ W, "dy": dy, "dy + dy @ W": dy + dy @ W,
            "dy + (dy * (1 - y**2)) @ W": dy + (dy * (1 - y**2)) @ W, "dy + da @ W.T": dy + da @ W.T,
            "dy + 2 * da @ W": dy + 2 * da @ W,
        }
        if not is_close(dx, expected[0]):
            for key, value in candidates.items():
                if is_close(dx, value):
                    return wrong_dx[key]
            return "dx = dy + (dy * (1 - F(x)**2)) @ W, with F(x) = tanh(x @ W.T + b)."
        if not is_close(dW, expected[1]):
            if is_close(dW, (da.T @ x).T):
                return "dW is transposed: W is (out, in), so dW = da.T @ x (not x.T @ da)."
            if is_close(dW, da.T @ x / len(x)):
                return "sum the weight gradient over the batch (the loss is a sum), do not average it."
            if is_close(dW, dy.T @ x):
                return "dW needs tanh' too: da = dy * (1 - F(x)**2), then dW = da.T @ x."
            if is_close(dW, da.T @ y) or is_close(dW, da.T @ (x + F)):
                return "W multiplies the block's input x, so dW = da.T @ x (not the output y)."
            return "dW = da.T @ x with da = dy * (1 - F(x)**2); the skip path has no weights."
        if not is_close(db, expected[2]):
            if np.shape(db) == np.shape(da) and is_close(db, da):
                return "db must have b's shape (D,): sum da over the batch axis."
            if is_close(db, da.mean(axis=0)):
                return "sum the bias gradient over the batch, do not average it."
            if is_close(db, dy.sum(axis=0)):
                return "db needs tanh' too: db = (dy * (1 - F(x)**2)).sum(axis=0)."
            return "db = da.sum(axis=0) with da = dy * (1 - F(x)**2)."
        return None

    check_cases(fn, cases, name="residual_backward", compare=compare_tuple(("dx", "dW", "db")), hint=hint,
                arg_names=("x", "W", "b", "dy"))


# ------------------------------------------------------------------ one beam-search step
def reference_beam_step(beam_scores, finished, next_log_probs, beam_size, eos_id):
    """One step of beam search over hypotheses x vocabulary, finished hypotheses kept.

    beam_scores (k,): the log-probability of each hypothesis so far; finished (k,) bool: True
    where the hypothesis has already ended with </s>; next_log_probs (k, V): log p(w | hypothesis,
    source) for every next token w (rows of finished hypotheses are ignored).
    Candidates: every live hypothesis i extended by every token w, with score
    ``beam_scores[i] + next_log_probs[i, w]``; every finished hypothesis once, unchanged, with
    token ``eos_id``. Returns the best ``beam_size`` candidates, best first, as
    ``(scores (n,), parents (n,) int, tokens (n,) int)`` with n = min(beam_size, #candidates).
    """
    beam_scores = np.asarray(beam_scores, dtype=float)
    finished = np.asarray(finished, dtype=bool)
    candidates = beam_scores[:, None] + np.asarray(next_log_probs, dtype=float)  # (k, V)
    candidates[finished] = -np.inf  # a finished hypothesis is not extended ...
    candidates[finished, eos_id] = beam_scores[finished]  # ... it competes once, as it is
    flat = candidates.ravel()  # (k * V,): index i * V + w
    order = np.argsort(-flat, kind="stable")[:beam_size]
    order = order[np.isfinite(flat[order])]
    parents, tokens = np.divmod(order, candidates.shape[1])
    return flat[order], parents, tokens


def check_beam_step(fn: Callable) -> None:
    """Check ``fn(beam_scores, finished, next_log_probs, beam_size, eos_id) -> (scores, parents, tokens)``.

    See :func:`reference_beam_step` for the definition; all three outputs best first.
    """
    def log_softmax(z):
        z = z - z.max(axis=-1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))

    rng = np.random.default_rng(0)
    first = (np.array([0.0]), np.array([False]), log_softmax(rng.standard_normal((1, 6)) * 2), 3, 1)
    # hypothesis 0 is far ahead: the best 3 candidates include two extensions of it
    ahead_scores = np.array([-0.5, -2.0, -2.3])
    ahead_next = log_softmax(rng.standard_normal((3, 5)) * 1.5)
    ahead_next[0, 2], ahead_next[0, 4] = -0.3, -0.6
    ahead_next = log_softmax(ahead_next)
    ahead = (ahead_scores, np.array([False, False, False]), ahead_next, 3, 1)
    # hypothesis 1 has ended (with </s>, id 1) and has the best score: it must stay, unchanged
    kept_next = log_softmax(rng.standard_normal((3, 5)) * 1.5)
    kept = (np.array([-3.0, -1.0, -3.4]), np.array([False, True, False]), kept_next, 3, 1)
    # a finished hypothesis with a poor score drops out when better live ones fill the beam
    dropped = (np.array([-0.7, -9.0, -1.1, -1.3]), np.array([False, True, False, False]),
               log_softmax(rng.standard_normal((4, 6))), 4, 0)
    inputs = [
        ("first step: one hypothesis (<s>), vocabulary of 6, beam 3", first),
        ("three live hypotheses, the first far ahead, beam 3", ahead),
        ("hypothesis 1 has ended with </s> (id 1) and has the best score", kept),
        ("a finished hypothesis with a poor score, beam 4", dropped),
    ]
    cases = [(d, args, reference_beam_step(*args)) for d, args in inputs]

    def hint(description, got, expected):
        if isinstance(got, Exception) or not isinstance(got, (tuple, list)) or len(got) != 3:
            return None
        beam_scores, finished, next_log_probs, beam_size, _eos_id = dict(inputs)[description]
        k, _V = next_log_probs.shape
        try:
            got_scores, got_parents, got_tokens = (np.asarray(a, dtype=float).ravel() for a in got)
        except (TypeError, ValueError):
            return None
        exp_scores, exp_parents, exp_tokens = expected
        triples = sorted(zip(got_scores.round(9), got_parents, got_tokens))
        if len(got_scores) == len(exp_scores) and triples == sorted(zip(exp_scores.round(9), exp_parents, exp_tokens)):
            return "the right candidates in the wrong order: return them best first (highest score first)."
        if len(got_scores) == len(exp_scores) and np.allclose(np.sort(got_scores), np.sort(exp_scores)):
            if is_close(got_parents, exp_tokens) and is_close(got_tokens, exp_parents):
                return ("parents and tokens are swapped: a flat index i * V + w has parent i = index // V and "
                        "token w = index % V.")
            return "the scores are right but not the (parent, token) pairs: parent = index // V, token = index % V."

        def variant(scores_matrix):  # the top beam_size of a (k, V) score matrix, best first
            flat = scores_matrix.ravel()
            order = np.argsort(-flat, kind="stable")[:beam_size]
            return flat[order]

        if is_close(got_scores, variant(next_log_probs)):
            return ("ranked by the next token's log-probability alone: a candidate's score is its hypothesis's "
                    "score plus log p(w), beam_scores[i] + next_log_probs[i, w].")
        if is_close(got_scores, variant(beam_scores[:, None] * next_log_probs)):
            return "log-probabilities add (the probabilities multiply): beam_scores[i] + next_log_probs[i, w]."
        flat_all = (beam_scores[:, None] + next_log_probs).ravel()
        lowest = np.sort(flat_all)[:beam_size]
        if is_close(got_scores, lowest) or is_close(got_scores, lowest[::-1]):
            return "these are the lowest scores; keep the highest (log-probabilities closer to 0 are better)."
        extended = beam_scores[:, None] + next_log_probs
        if finished.any() and is_close(got_scores, variant(extended)):
            return ("a finished hypothesis was extended like a live one: once it has produced </s> it is kept "
                    "as it is (score unchanged, token eos_id), not extended by another token.")
        no_finished = extended.copy()
        no_finished[finished] = -np.inf
        if finished.any() and is_close(got_scores, variant(no_finished)[np.isfinite(variant(no_finished))]):
            return ("the finished hypothesis was dropped: a hypothesis that has ended still competes, with its "
                    "score unchanged; only better candidates may push it out of the beam.")
        per_row_best = (beam_scores[:, None] + next_log_probs).max(axis=1)
        if k > 1 and is_close(np.sort(got_scores)[::-1], np.sort(per_row_best)[::-1][:len(got_scores)]):
            return ("one extension per hypothesis is not beam search: take the top beam_size over all "
                    "hypotheses x vocabulary together (flatten the (k, V) matrix); two may extend the same hypothesis.")
        return None

    check_cases(fn, cases, name="beam_step", compare=compare_tuple(("scores", "parents", "tokens")), hint=hint,
                arg_names=("beam_scores", "finished", "next_log_probs", "beam_size", "eos_id"))


# ------------------------------------------------------------------ length normalisation
def reference_length_normalisation(log_probs, lengths, alpha):
    """Length-normalised scores ``log_prob / length ** alpha`` (alpha = 0: the raw log-probability).

    log_probs (n,) float (sums of token log-probabilities, </s> included), lengths (n,) int >= 1
    (tokens counted in the log-probability, </s> included), alpha >= 0. Returns (n,) floats.
    """
    log_probs = np.asarray(log_probs, dtype=float)
    lengths = np.asarray(lengths, dtype=float)
    return log_probs / lengths**alpha


def check_length_normalisation(fn: Callable) -> None:
    """Check ``fn(log_probs, lengths, alpha) -> scores`` = ``log_probs / lengths ** alpha``."""
    log_probs = np.array([-2.0, -3.5, -6.0, -7.2])  # (n,)
    lengths = np.array([2, 4, 8, 9])  # (n,)
    inputs = [
        ("alpha = 1: the mean log-probability per token", (log_probs, lengths, 1.0)),
        ("alpha = 0: no normalisation, the raw log-probability", (log_probs, lengths, 0.0)),
        ("alpha = 0.6", (log_probs, lengths, 0.6)),
        ("alpha = 0.5, lengths 1 to 3", (np.array([-0.4, -1.5, -1.2]), np.array([1, 3, 2]), 0.5)),
    ]
    cases = [(d, args, reference_length_normalisation(*args)) for d, args in inputs]

    def hint(description, got, expected):
        if isinstance(got, Exception):
            return None
        lp, n, alpha = dict(inputs)[description]
        n = n.astype(float)
        with np.errstate(divide="ignore", invalid="ignore"):  # alpha * n = 0 for alpha = 0
            candidates = _length_mistakes(lp, n, alpha)
        for value, message in candidates:
            if value is not None and np.all(np.isfinite(value)) and is_close(got, value):
                return message
        return None

    check_cases(fn, cases, name="length_normalisation", hint=hint, arg_names=("log_probs", "lengths", "alpha"))


def _length_mistakes(lp, n, alpha):
    """(wrong scores, what is wrong) for the usual mistakes in log_prob / length ** alpha."""
    return [
        (lp * n**alpha, ("divide by length ** alpha, do not multiply: a log-probability is negative, so "
                        "multiplying by the length punishes long outputs even more.")),
        (lp / n, "raise the length to the power alpha: log_prob / length ** alpha (alpha = 1 gives the mean)."),
        (lp / (alpha * n), "the penalty is length ** alpha, not alpha * length."),
        (np.exp(lp) / n**alpha, "normalise the log-probability, not the probability exp(log_prob)."),
        (lp / ((5 + n) / 6) ** alpha, ("that is Wu et al.'s (GNMT) penalty ((5 + length) / 6) ** alpha; "
                                      "this exercise uses length ** alpha.")),
        (lp / (n - 1) ** alpha if np.all(n > 1) else None,
         "count every token in the log-probability, </s> included: use the lengths as given."),
        (lp - alpha * np.log(n), "divide by length ** alpha; subtracting alpha * log(length) is a different score."),
    ]

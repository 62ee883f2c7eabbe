"""Exercise checkers for chapter 02 (seq2seq and the bottleneck).

* :func:`check_masked_cross_entropy`: the loss that ignores pad targets;
* :func:`check_greedy_decode`: the greedy decoding loop (feed back the prediction, stop at
  the end token, pad finished rows, respect the maximum length).

Each checker runs the reader's function on several small cases and, when one fails, says
which case, what was expected, what came back and the likely mistake.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .core import check_cases, compare_arrays

__all__ = [
    "reference_masked_cross_entropy",
    "check_masked_cross_entropy",
    "reference_greedy_decode",
    "check_greedy_decode",
]


# ---------------------------------------------------------------------------------- the loss
def _log_softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def reference_masked_cross_entropy(logits: np.ndarray, targets: np.ndarray, pad_id: int) -> float:
    """Mean of -log p(target) over the positions whose target is not ``pad_id``.

    logits: (batch, tgt_len, vocab) floats; targets: (batch, tgt_len) ints.
    """
    logits = np.asarray(logits, dtype=float)
    targets = np.asarray(targets)
    log_p = _log_softmax(logits)  # (batch, tgt_len, vocab)
    nll = -np.take_along_axis(log_p, targets[..., None], axis=-1)[..., 0]  # (batch, tgt_len)
    real = targets != pad_id
    return float(nll[real].sum() / real.sum())


def _as_float(value) -> float:
    """The one number the reader returned (the comparison has already checked that it is one)."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().double().numpy()
    return float(np.asarray(value, dtype=float).reshape(()))


def check_masked_cross_entropy(fn: Callable) -> None:
    """Check a reader's ``masked_cross_entropy(logits, targets, pad_id) -> float``.

    logits (batch, tgt_len, vocab) NumPy floats, targets (batch, tgt_len) NumPy ints; the
    result is the mean negative log-likelihood over the non-pad target positions.
    """
    rng = np.random.default_rng(0)
    no_pads = (rng.normal(size=(2, 3, 5)), np.array([[1, 2, 3], [4, 0, 2]]))
    padded_targets = np.array([[1, 4, 2, 0, 0], [3, 2, 0, 0, 0], [4, 4, 1, 2, 0]])
    padded = (rng.normal(size=(3, 5, 6)), padded_targets)
    other_pad = (rng.normal(size=(2, 4, 5)), np.array([[1, 2, 3, 3], [2, 3, 3, 3]]))  # pad_id = 3
    large = (np.array([[[1000.0, 0.0, -1000.0], [0.0, 1000.0, 0.0]]]), np.array([[0, 2]]))
    cases = [
        ("no padding (pad_id=9 never occurs)", no_pads + (9,)),
        ("padding at the end of rows of different lengths (pad_id=0)", padded + (0,)),
        ("pad_id is 3, not 0", other_pad + (3,)),
        ("large logits (+-1000): log-softmax must not overflow", large + (7,)),
    ]
    cases = [(d, args, reference_masked_cross_entropy(*args)) for d, args in cases]

    def compare(got, expected):
        problem = compare_arrays(got, expected, atol=1e-6, rtol=1e-5)
        if problem and "expected one number" in problem:
            return problem + " (the mean loss over the real tokens)"
        return problem

    def hint(description, got, expected):
        got = _as_float(got)
        if not np.isfinite(got):
            return "exp(1000) overflows: subtract each row's maximum before exp (a stable log-softmax)."
        logits, targets, pad_id = next(args for d, args, _ in cases if d == description)
        logits = np.asarray(logits, dtype=float)
        log_p = _log_softmax(logits)
        nll = -np.take_along_axis(log_p, targets[..., None], axis=-1)[..., 0]  # (batch, tgt_len)
        raw = -np.take_along_axis(logits, targets[..., None], axis=-1)[..., 0]  # logits used as log p
        real = targets != pad_id
        row_means = [nll[row][real[row]].mean() for row in range(len(targets)) if real[row].any()]
        wrong = {
            "you averaged over every position, pads included: keep only targets != pad_id.": nll.mean(),
            "pads are zeroed but still counted: divide by the number of real (non-pad) tokens.":
                nll[real].sum() / nll.size,
            "that is the mean per *sequence*: divide by the number of real tokens, not the batch size.":
                nll[real].sum() / len(targets),
            "that is the mean of each sequence's mean loss, which weights a short sequence's tokens more "
            "than a long one's: sum over all real tokens of the batch, then divide by their number.":
                np.mean(row_means),
            "that is the sum: divide by the number of real tokens.": nll[real].sum(),
            "the pad positions were hard-coded as id 0: use the pad_id argument.": (
                nll[targets != 0].sum() / max((targets != 0).sum(), 1)),
            "you used the raw logits as log-probabilities: apply log-softmax over the vocabulary axis "
            "first (log p = z - log sum exp z).": raw[real].mean(),
        }
        for text, value in wrong.items():
            if np.isfinite(value) and np.isclose(got, value, rtol=1e-5) and not np.isclose(value, expected, rtol=1e-5):
                return text
        if got < 0:
            return ("a cross-entropy is never negative (-log p >= 0 for p <= 1): take log-softmax of the "
                    "logits before picking the target's entry, and negate it.")
        return None

    check_cases(fn, cases, name="masked_cross_entropy", compare=compare, hint=hint,
                arg_names=("logits", "targets", "pad_id"))


# ---------------------------------------------------------------------------------- greedy decoding
def reference_greedy_decode(step: Callable, state, batch_size: int, bos_id: int, eos_id: int, pad_id: int,
                            max_len: int) -> np.ndarray:
    """Greedy decoding with a step function.

    step(tokens (batch,) int array, state) -> (logits (batch, vocab), new state).
    Start every row with ``bos_id``; at each step feed the previous *prediction* (argmax of
    the logits); a row is finished once it has produced ``eos_id`` (which is kept), and gets
    ``pad_id`` afterwards; stop when every row is finished or after ``max_len`` steps.
    Returns an int array (batch, steps).
    """
    tokens = np.full(batch_size, bos_id)
    finished = np.zeros(batch_size, dtype=bool)
    outputs = []
    for _ in range(max_len):
        logits, state = step(tokens, state)
        tokens = np.asarray(logits).argmax(axis=-1)  # (batch,)
        tokens = np.where(finished, pad_id, tokens)
        outputs.append(tokens)
        finished |= tokens == eos_id
        if finished.all():
            break
    return np.stack(outputs, axis=1)  # (batch, steps)


class _Stopped(BaseException):
    """Raised by the toy step to end a wrong loop (a BaseException: ``except Exception`` in the
    reader's code cannot swallow it); ``reason`` says why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _counting_step(vocab: int, rule: Callable, limit: int, batch: int):
    """A toy decoder step: the next token is ``rule(previous token, step number, row)``.

    The step counts its calls itself (a loop that ignores the state it returns would never
    see a count kept in the state) and stops the loop after ``limit`` calls or when it is
    handed a state other than the one its previous call returned.
    """
    calls = 0

    def step(tokens, state):
        nonlocal calls
        if not isinstance(state, dict) or state.get("calls") != calls:
            raise _Stopped(f"step() was given a stale state at step {calls + 1}: pass back the state the "
                           "previous call returned (`logits, state = step(tokens, state)`), or the decoder "
                           "never moves on")
        if calls >= limit:
            raise _Stopped(f"the step function was called more than max_len={limit} times: stop after "
                           "max_len steps even when a row never produces </s>")
        if hasattr(tokens, "detach"):
            tokens = tokens.detach().cpu().numpy()
        tokens = np.asarray(tokens)
        if tokens.size != batch:
            raise ValueError(f"step() was given tokens of shape {tokens.shape}; it needs the previous token of "
                             f"each row, shape (batch,) = ({batch},)")
        tokens = tokens.reshape(-1)
        t = calls
        calls += 1
        state = {"calls": calls}
        logits = np.full((len(tokens), vocab), -5.0)
        for row, prev in enumerate(tokens):
            logits[row, rule(int(prev), t, row)] = 5.0
        return logits, state

    return step


def check_greedy_decode(fn: Callable) -> None:
    """Check a reader's ``greedy_decode(step, state, batch_size, bos_id, eos_id, pad_id, max_len)``.

    The toy decoders used here emit known sequences, so each case knows the right output:
    """
    bos, eos, pad, vocab = 1, 2, 0, 12

    def successor(prev, t, row):  # "count up" from a start that depends on the row; end at 9
        start = 4 + row
        if prev == bos:
            return start
        return eos if prev >= 9 else prev + 1

    def never_ends(prev, t, row):
        return 5 + (t + row) % 3

    def talks_after_end(prev, t, row):  # row 0 ends after 1 token; the model keeps talking
        if row == 0:
            return [7, eos, 8, 8, 8][min(t, 4)]
        return [3, 4, 5, eos, 6][min(t, 4)]

    specs = [
        ("one row counting 4, 5, ..., 9 then </s>: feed back each prediction", successor, 1, 20),
        ("rows of different lengths: pad a row after its </s> and stop when all are done", successor, 3, 20),
        ("a decoder that never says </s>: stop after max_len=6 steps", never_ends, 2, 6),
        ("the model keeps predicting after </s>: those positions must be pad", talks_after_end, 2, 10),
    ]
    cases = []
    for description, rule, batch, max_len in specs:
        limit = max_len
        expected = reference_greedy_decode(_counting_step(vocab, rule, limit, batch), {"calls": 0}, batch, bos, eos,
                                           pad, max_len)

        def call(fn=fn, rule=rule, batch=batch, max_len=max_len, limit=limit):
            return fn(_counting_step(vocab, rule, limit, batch), {"calls": 0}, batch, bos, eos, pad, max_len)

        cases.append((description, (call,), expected))

    def run(call):
        try:
            return call()
        except _Stopped as stop:
            return stop

    def as_ids(got):
        """``got`` as an int array, or None when it is ragged or not numbers."""
        if hasattr(got, "detach"):
            got = got.detach().cpu().numpy()
        try:
            arr = np.asarray(got)
        except (ValueError, TypeError):  # NumPy 2 refuses ragged lists of lists
            return None
        return None if arr.dtype == object else arr

    def row_lengths(got):
        try:
            return [len(row) for row in got]
        except TypeError:
            return None

    def compare(got, expected):
        if isinstance(got, _Stopped):
            return got.reason
        arr = as_ids(got)
        if arr is None:
            lengths = row_lengths(got)
            if lengths is not None and len(set(lengths)) > 1:
                try:
                    shown = [[int(i) for i in row] for row in got]
                except (TypeError, ValueError):
                    shown = got
                return f"expected a (batch, steps) array of ids, got rows of different lengths {lengths}: {shown!r}"
            return f"expected a (batch, steps) array of ids, got {type(got).__name__}: {got!r}"
        if arr.ndim != 2:
            return f"expected a (batch, steps) array of ids, got shape {arr.shape}: {arr.tolist()}"
        if arr.shape != expected.shape:
            return (f"expected shape {expected.shape}, got {arr.shape}\n  expected: {expected.tolist()}\n"
                    f"  got:      {arr.tolist()}")
        if not np.array_equal(arr, expected):
            return f"expected {expected.tolist()}, got {arr.tolist()}"
        return None

    def error_hint(description, err):
        text = str(err)
        if "shape" in text or "broadcast" in text:
            return ("a shape mismatch inside the loop: logits are (batch, vocab), so the prediction is "
                    "logits.argmax(axis=-1), one token per row, shape (batch,); argmax over axis 0 gives "
                    "one per vocabulary entry.")
        return None

    def hint(description, got, expected):
        if isinstance(got, _Stopped):
            return None
        arr = as_ids(got)
        if arr is None:
            return ("every row must have the same number of steps: a finished row still gets pad_id at the "
                    "remaining steps. Collect one (batch,) array per step and np.stack(outputs, axis=1).")
        got = arr
        if got.ndim != 2:
            return "return one row per sequence and one column per step."
        if got.shape != expected.shape and got.shape == expected.shape[::-1] and np.array_equal(got.T, expected):
            return ("the axes are swapped: you returned (steps, batch); return (batch, steps), one row per "
                    "sequence, e.g. np.stack(outputs, axis=1) (or transpose).")
        if got.shape == expected.shape and (expected == eos).any() and np.array_equal(
                got, np.where(expected == eos, pad, expected)):
            return ("the </s> itself came out as pad: keep the </s> a row produces (it marks where the output "
                    "ends) and pad only the steps *after* it. Write the step's tokens first, then mark the "
                    "rows that just produced </s> as finished.")
        if got.shape[1] > 1 and (got == got[:, :1]).all() and not (expected == expected[:, :1]).all():
            return ("every step predicted the same token: the next step must read the previous *prediction* "
                    "(argmax), not <s> or a fixed token.")
        if got.shape[1] == expected.shape[1] + 1 and np.array_equal(got[:, 1:], expected) and (got[:, 0] == bos).all():
            return "the output should not start with <s> (bos_id): it holds the predictions only."
        if got.shape[1] > expected.shape[1] and np.array_equal(got[:, :expected.shape[1]], expected):
            return "you kept decoding after every row had produced </s>: stop once all rows are finished."
        after_end = ((got == eos).cumsum(1) - (got == eos)) > 0  # positions after a row's first </s>
        if (got[after_end] != pad).any():
            return "positions after a row's </s> must be pad_id, whatever the model predicts there."
        if got.shape[1] == expected.shape[1] and not np.array_equal(got[:, 0], expected[:, 0]):
            return "the first step should read <s> (bos_id) and you should take the argmax over the vocabulary axis."
        if got.shape == expected.shape and np.array_equal(got[:, 0], expected[:, 0]):
            return "the next step must read the previous *prediction* (argmax), not <s> or a fixed token."
        if got.shape[0] == expected.shape[0] and got.shape[1] < expected.shape[1]:
            return "you stopped too early: a row is finished when it produces </s>, and all rows must be finished."
        return None

    check_cases(run, cases, name="greedy_decode", compare=compare, hint=hint, error_hint=error_hint)

"""Exercise checkers for chapter 05 (masking).

* :func:`check_padding_mask`: ``fn(lengths, max_len) -> (batch, max_len)`` bool, True at real tokens;
* :func:`check_causal_mask`: ``fn(n) -> (n, n)`` bool, True where key ``j <= i``;
* :func:`check_mlm_mask`: ``fn(ids, mask_id, vocab_size, special_ids, rng) -> (inputs, labels)``,
  BERT's 80-10-10 corruption, checked case by case and by its proportions on a large batch.

Each names the usual mistake when the answer matches it: an inverted mask (True = masked), an
off-by-one (a missing diagonal, one future position let through, ``<=`` for ``<``), a
transposed triangle, chosen special tokens, labels everywhere, no noise in the 80-10-10.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..scratch.masking import IGNORE_LABEL, causal_mask, padding_mask
from .core import CheckFailed, check_cases, compare_arrays

__all__ = ["check_causal_mask", "check_mlm_mask", "check_padding_mask"]


def _bool_array(got, shape) -> np.ndarray | None:
    if hasattr(got, "detach"):
        got = got.detach().cpu().numpy()
    try:
        got = np.asarray(got)
    except Exception:  # noqa: BLE001
        return None
    return got if got.shape == tuple(shape) else None


def _compare_mask(got, expected) -> str | None:
    if hasattr(got, "detach"):
        got = got.detach().cpu().numpy()
    arr = np.asarray(got)
    if arr.dtype != bool:
        if arr.shape == expected.shape and np.isin(arr, (0, 1)).all() and (arr.astype(bool) == expected).all():
            return (f"the values are right but the dtype is {arr.dtype}: a mask must be boolean (True = may attend); "
                    "masked_fill and np.where read 0/1 numbers differently, so build it with a comparison")
        if arr.shape == expected.shape and not np.isin(arr, (0, 1)).all():
            return f"a mask holds True/False only, got values {np.unique(arr)[:6]}"
    return compare_arrays(arr.astype(float) if arr.dtype == bool else arr, expected.astype(float))


# ------------------------------------------------------------------ padding mask
def check_padding_mask(fn: Callable) -> None:
    """Check ``fn(lengths, max_len) -> mask``: lengths ``(batch,)`` ints, mask ``(batch, max_len)``
    bool with ``mask[b, j] = j < lengths[b]`` (True at real tokens, False at padding)."""
    inputs = [
        ("lengths [3, 1, 2], max_len 4", (np.array([3, 1, 2]), 4)),
        ("lengths [5, 2], max_len 5 (the longest fills its row)", (np.array([5, 2]), 5)),
        ("one sequence of length 1, max_len 3", (np.array([1]), 3)),
        ("a sequence of length 0 (all padding), max_len 2", (np.array([2, 0]), 2)),
        ("a batch of 4 with max_len 4: rows are sequences, columns positions", (np.array([4, 1, 3, 2]), 4)),
    ]
    cases = [(d, args, padding_mask(*args)) for d, args in inputs]

    def hint(description, got, expected):
        if isinstance(got, BaseException):
            return None
        lengths, max_len = dict(inputs)[description]
        arr = _bool_array(got, expected.shape)
        if arr is None:
            if _bool_array(got, expected.T.shape) is not None:
                return "the mask is transposed: rows are the sequences (batch), columns the positions (max_len)."
            return f"the mask has shape (batch, max_len) = {expected.shape}."
        arr = arr.astype(bool)
        if (arr == ~expected).all():
            return ("the mask is inverted: in this course (and in torch's scaled_dot_product_attention) True means "
                    "'a real token, may attend', False marks padding.")
        positions = np.arange(max_len)[None, :]
        if (arr == (positions <= lengths[:, None])).all():
            return "off by one: position j (counted from 0) is real when j < length, not j <= length."
        if (arr == (positions < lengths[:, None] - 1)).all():
            return "off by one: the last real token (position length - 1) must be True too; use j < length."
        return None

    check_cases(fn, cases, name="padding_mask", compare=_compare_mask, hint=hint)


# ------------------------------------------------------------------ causal mask
def check_causal_mask(fn: Callable) -> None:
    """Check ``fn(n) -> mask``: ``(n, n)`` bool, ``mask[i, j] = j <= i`` (query i sees itself and the past)."""
    inputs = [("n = 4", (4,)), ("n = 1", (1,)), ("n = 2", (2,)), ("n = 6", (6,))]
    cases = [(d, args, causal_mask(*args)) for d, args in inputs]

    def hint(description, got, expected):
        if isinstance(got, BaseException):
            return None
        arr = _bool_array(got, expected.shape)
        n = expected.shape[0]
        if arr is None:
            return f"the mask is (n_queries, n_keys) = ({n}, {n}): one row per query position."
        arr = arr.astype(bool)
        ones = np.ones((n, n), dtype=bool)
        if (arr == np.tril(ones, -1)).all():
            return ("off-by-one diagonal: the diagonal must be True, a position may attend to itself (otherwise the "
                    "first position has nothing to attend to); use np.tril(..., k=0).")
        if (arr == np.tril(ones, 1)).all():
            return ("off-by-one diagonal: you let each position see one position into the future (k=1); the "
                    "next token is exactly what a next-token model must predict. Use k=0.")
        if (arr == np.triu(ones, 1)).all():
            return ("the mask is inverted: True marks the future here, but True must mean 'may attend' "
                    "(torch's convention). Use np.tril(np.ones((n, n), dtype=bool)).")
        if (arr == np.triu(ones, 0)).all():
            return ("this is the transposed mask: query i is row i and may see keys (columns) j <= i, the LOWER "
                    "triangle; the upper one lets every position read the future.")
        if (arr == ~np.tril(ones, -1)).all() or (arr == ~np.tril(ones, 0)).all():
            return "the mask is inverted: True must mean 'may attend' (the past and the present)."
        return None

    check_cases(fn, cases, name="causal_mask", compare=_compare_mask, hint=hint)


# ------------------------------------------------------------------ 80-10-10
MLM_MASK_ID = 3
MLM_SPECIALS = (0, 1, 2, 3)  # pad, <s>, </s>, [MASK]
MLM_VOCAB = 30


def _mlm_batch(seed: int, batch: int = 400, length: int = 40) -> np.ndarray:
    """Word ids 4..29 between <s> (1) and </s> (2), padded with 0: (batch, length)."""
    rng = np.random.default_rng(seed)
    ids = np.zeros((batch, length), dtype=np.int64)
    for row in ids:
        n = int(rng.integers(3, length - 1))
        row[0], row[n + 1] = 1, 2
        row[1:n + 1] = rng.integers(4, MLM_VOCAB, size=n)
    return ids


def _within(name: str, count: int, total: int, p: float, what: str, sigmas: float = 5.0) -> str | None:
    """None when count/total is within ``sigmas`` binomial standard errors of p, else a message."""
    if total == 0:
        return f"{name}: {what}: there is nothing to count (0 positions)"
    share = count / total
    tolerance = sigmas * np.sqrt(p * (1 - p) / total)
    if abs(share - p) > tolerance:
        return f"{what}: expected a share of {p:.3f} (+- {tolerance:.3f}), got {share:.3f} ({count} of {total})"
    return None


def check_mlm_mask(fn: Callable) -> None:
    """Check ``fn(ids, mask_id, vocab_size, special_ids, rng) -> (inputs, labels)``.

    ids ``(batch, seq_len)`` ints; mask_id the ``[MASK]`` id; special_ids the ids never chosen
    (pad, ``<s>``, ``</s>``, ``[MASK]``); rng a ``np.random.Generator``. Each ordinary position is
    chosen with probability 0.15; a chosen one becomes ``[MASK]`` (80%), a random ordinary token
    (10%) or stays (10%). ``labels`` holds the original id at chosen positions and -100 elsewhere.
    The proportions are tested on a large batch, five binomial standard errors wide.
    """
    name = "mlm_mask"
    if not callable(fn):
        raise TypeError(f"{name}: expected a function, got {type(fn).__name__}")
    specials = np.array(MLM_SPECIALS)
    results = []
    for seed in (0, 1):
        ids = _mlm_batch(seed)
        try:
            got = fn(ids.copy(), MLM_MASK_ID, MLM_VOCAB, list(MLM_SPECIALS), np.random.default_rng(100 + seed))
        except NotImplementedError:
            raise CheckFailed(f"{name}: not implemented yet (the function raised NotImplementedError)") from None
        except Exception as err:
            raise CheckFailed(f"{name}: raised {type(err).__name__}: {err}") from err
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise CheckFailed(f"{name}: return the pair (inputs, labels), got {type(got).__name__}")
        inputs, labels = (np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x) for x in got)
        for what, arr in (("inputs", inputs), ("labels", labels)):
            if arr.shape != ids.shape:
                raise CheckFailed(f"{name}: {what} must have the shape of ids {ids.shape}, got {arr.shape}")
            if not np.issubdtype(arr.dtype, np.integer):
                raise CheckFailed(f"{name}: {what} must hold integer ids, got dtype {arr.dtype}")
        results.append((ids, inputs, labels))

    # Pool the two batches (two different generators) for the proportions.
    ids, inputs, labels = (np.concatenate(parts) for parts in zip(*results))
    special_pos = np.isin(ids, specials)
    chosen = labels != IGNORE_LABEL

    def fail(message: str, hint: str | None = None):
        raise CheckFailed(f"{name}: {message}" + (f"\n  hint: {hint}" if hint else ""))

    # Labels first: they say which positions were chosen.
    if chosen.mean() > 0.5 and (labels[chosen] == ids[chosen]).all():
        fail(f"labels hold an id at {chosen.mean():.0%} of the positions (expected about 15% of the ordinary tokens)",
             "labels hold the original id only where the model must guess (the chosen positions) and -100 "
             "everywhere else, so the loss ignores the rest.")
    bad_labels = chosen & (labels != ids)
    if bad_labels.any():
        where = tuple(int(i) for i in np.argwhere(bad_labels)[0])
        extra = None
        if (labels[bad_labels] == inputs[bad_labels]).all():
            extra = "labels are the ORIGINAL ids (what the model must recover), not the corrupted inputs."
        fail(f"at {where} the label is {labels[where]}, but the original id there is {ids[where]} "
             "(labels are either the original id or -100)", extra)
    if (chosen & special_pos).any():
        where = tuple(int(i) for i in np.argwhere(chosen & special_pos)[0])
        fail(f"position {where} holds the special token {ids[where]} and was chosen",
             "masking specials: padding, <s>, </s> and [MASK] are never chosen; draw only among the ordinary "
             "tokens (e.g. `ordinary = ~np.isin(ids, special_ids)` and choose within it).")
    changed_unchosen = ~chosen & (inputs != ids)
    if changed_unchosen.any():
        where = tuple(int(i) for i in np.argwhere(changed_unchosen)[0])
        fail(f"position {where} was changed ({ids[where]} -> {inputs[where]}) but its label is -100",
             "only chosen positions may change, and every chosen position gets its original id as label.")
    random_pos = chosen & (inputs != MLM_MASK_ID) & (inputs != ids)
    if np.isin(inputs[random_pos], specials).any():
        fail("a chosen position was replaced by a special token that is not [MASK]",
             "the 10% random replacements are drawn from the ordinary tokens only, never pad, <s> or </s>.")

    ordinary = ~special_pos
    n_chosen, n_ordinary = int(chosen.sum()), int(ordinary.sum())
    if n_chosen == 0:
        fail("no position was chosen (every label is -100)", "choose each ordinary position with probability 0.15.")
    share_all = n_chosen / ids.size
    problem = _within(name, n_chosen, n_ordinary, 0.15, "chosen positions among the ordinary tokens")
    if problem:
        extra = None
        if abs(share_all - 0.15) < 5 * np.sqrt(0.15 * 0.85 / ids.size):
            extra = "you chose 15% of ALL positions; choose 15% of the ordinary tokens (pads and specials excluded)."
        elif abs(n_chosen / n_ordinary - 0.15 * 0.8) < 0.02:
            extra = "only the [MASK]ed positions count as chosen: the random and unchanged 20% get labels too."
        fail(problem, extra)
    n_mask = int((chosen & (inputs == MLM_MASK_ID)).sum())
    n_same = int((chosen & (inputs == ids)).sum())
    n_random = int(random_pos.sum())
    if n_mask == n_chosen:
        fail("every chosen position became [MASK]",
             "the 80-10-10 rule: 80% [MASK], 10% a random ordinary token, 10% unchanged. The noise keeps the model "
             "from learning that only [MASK] positions matter (at fine-tuning time there is no [MASK]).")
    # A random replacement equals the original with probability 1 / (ordinary ids): count it as 'same'.
    n_ordinary_ids = MLM_VOCAB - len(MLM_SPECIALS)
    expected_same = 0.1 + 0.1 / n_ordinary_ids
    for count, p, what in ((n_mask, 0.8, "chosen positions that became [MASK]"),
                           (n_random, 0.1 - 0.1 / n_ordinary_ids,
                            "chosen positions that became another ordinary token"),
                           (n_same, expected_same, "chosen positions left unchanged")):
        problem = _within(name, count, n_chosen, p, what)
        if problem:
            extra = ("draw ONE number u per chosen position: u < 0.8 -> [MASK], 0.8 <= u < 0.9 -> a random "
                     "ordinary token, otherwise keep it. A second, independent draw for the random case gives "
                     "0.2 * 0.1 = 2% random instead of 10%.")
            fail(problem, extra)
    print(f"✓ {name}: labels, specials and proportions pass ({n_chosen} chosen of {n_ordinary} ordinary tokens: "
          f"{n_mask / n_chosen:.2f} [MASK], {n_random / n_chosen:.2f} random, {n_same / n_chosen:.2f} unchanged)")

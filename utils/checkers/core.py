"""Exercise checkers: run a reader's function on several cases and say *what* is wrong.

A checker never just says "wrong". It names the case that failed, what was expected and
what came back, so the reader knows where to look:

    CheckFailed: stable_softmax: case 'large logits [1000, 1001, 1002]': got nan at
    index (0,): does your softmax overflow? Subtract the row maximum before exp.

Chapter-specific checkers live beside their chapter's code (``checkers_rnn``, ...) and use
:func:`check_cases` and :class:`CheckFailed` from here.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

__all__ = ["CheckFailed", "check_cases", "check_stable_softmax", "reference_stable_softmax"]


class CheckFailed(AssertionError):
    """Raised by a checker; the message says which case failed and how."""


def _short(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return np.array2string(value, precision=4, threshold=12, suppress_small=True)
    text = repr(value)
    return text if len(text) < 200 else text[:200] + "..."


def compare_arrays(got: Any, expected: Any, atol: float = 1e-6, rtol: float = 1e-6) -> str | None:
    """None when ``got`` equals ``expected`` (shape and values), else what differs."""
    if hasattr(got, "detach"):  # a torch tensor
        got = got.detach().cpu().numpy()
    try:
        got_arr = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        return f"expected an array, got {type(got).__name__}: {_short(got)}"
    expected = np.asarray(expected, dtype=float)
    if got_arr.shape != expected.shape:
        return f"expected shape {expected.shape}, got shape {got_arr.shape}"
    bad = ~np.isfinite(got_arr)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        return f"got {got_arr[where]} at index {where} (expected {expected[where]:.6g})"
    close = np.isclose(got_arr, expected, atol=atol, rtol=rtol)
    if not close.all():
        where = tuple(int(i) for i in np.argwhere(~close)[0])
        return (f"at index {where} expected {expected[where]:.6g}, got {got_arr[where]:.6g} "
                f"({int((~close).sum())} of {close.size} entries differ)\n  expected: "
                f"{_short(expected)}\n  got:      {_short(got_arr)}")
    return None


def check_cases(
    fn: Callable,
    cases: Sequence[tuple[str, tuple, Any]],
    *,
    name: str,
    compare: Callable[[Any, Any], str | None] | None = None,
    hint: Callable[[str, Any, Any], str | None] | None = None,
    quiet: bool = False,
) -> None:
    """Call ``fn(*args)`` for each ``(description, args, expected)`` case.

    ``compare(got, expected)`` returns None when they agree, else a text saying how they
    differ (default: NumPy ``isclose`` with shape check). ``hint(description, got, expected)``
    may add advice about a likely mistake; when ``fn`` raised, ``got`` is the exception. Raises :class:`CheckFailed` at the first failing
    case; prints one line when all pass.
    """
    if not callable(fn):
        raise TypeError(f"{name}: expected a function, got {type(fn).__name__}")
    compare = compare or compare_arrays
    for description, args, expected in cases:
        try:
            got = fn(*args)
        except NotImplementedError:
            raise CheckFailed(f"{name}: not implemented yet (the function raised NotImplementedError)") from None
        except Exception as err:
            message = f"{name}: case '{description}': raised {type(err).__name__}: {err}"
            extra = hint(description, err, expected) if hint else None
            if extra:
                message += f"\n  hint: {extra}"
            raise CheckFailed(message) from err
        problem = compare(got, expected)
        if problem:
            message = f"{name}: case '{description}': {problem}"
            extra = hint(description, got, expected) if hint else None
            if extra:
                message += f"\n  hint: {extra}"
            raise CheckFailed(message)
    if not quiet:
        print(f"✓ {name}: all {len(cases)} cases pass")


# ------------------------------------------------------------------ chapter 00
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

    def hint(description, got, expected):
        if isinstance(got, Exception):
            if "broadcast" in str(got):
                return "keep the reduced axis: np.max(x, axis=-1, keepdims=True), and the same for the sum."
            return None
        got = np.asarray(got, dtype=float) if not isinstance(got, np.ndarray) else got
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

    check_cases(fn, cases, name="stable_softmax", hint=hint)

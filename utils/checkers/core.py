"""What every exercise checker shares: run a reader's function safely, compare, report.

A checker never just says "wrong". It names the case that failed, what was expected and
what came back, so the reader knows where to look:

    CheckFailed: stable_softmax: case 'large logits [1000, 1001, 1002]': got nan at
    index (0,) (expected 0.0900306)
      hint: does exp overflow or underflow? Subtract the maximum of each row before exp.

The pieces, used by the chapter modules (:mod:`.getting_started`, :mod:`.rnn`,
:mod:`.seq2seq`, :mod:`.attention`):

* :class:`ReaderFunction` calls the reader's function the way a checker must: on *copies* of
  the inputs (and names an input the function changed in place), within one time budget for
  the whole checker (:data:`TIME_LIMIT` seconds), each case computed once.
* :func:`odd_value` turns a return value no comparison can read (None, a string, a dict, a
  generator, a bfloat16 tensor) into one plain sentence.
* :func:`compare_arrays` says how an array (or number) differs from the expected one;
  :func:`is_close` is the yes/no version the hints use; :func:`compare_tuple` compares a tuple
  of named arrays (``("h_t", "c_t")``).
* :func:`check_cases` runs the cases and raises :class:`CheckFailed` at the first failure.
"""
from __future__ import annotations

import collections.abc
import copy
import signal
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Sequence

import numpy as np

__all__ = ["CheckFailed", "check_cases"]

#: Seconds a checker gives the reader's function in total, over all its cases and hints.
TIME_LIMIT = 20.0


class CheckFailed(AssertionError):
    """Raised by a checker; the message says which case failed and how."""


class StopChecking(CheckFailed):
    """A failure that ends the check at once: time ran out, or an input was changed in place."""


class _OutOfTime(BaseException):
    """Raised inside the reader's function by the alarm (a BaseException, so that a reader's
    ``except Exception`` cannot swallow it)."""


# ------------------------------------------------------------------ reading what came back
def _short(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return np.array2string(value, precision=4, threshold=12, suppress_small=True)
    text = repr(value)
    return text if len(text) < 200 else text[:200] + "..."


def odd_value(value: Any) -> str | None:
    """One plain sentence when ``value`` is not something a numeric comparison can read, else None."""
    if value is None:
        return "your function returned None: did you forget `return`?"
    if isinstance(value, (str, bytes)):
        return f"your function returned a string ({_short(value)}), not numbers"
    if isinstance(value, collections.abc.Mapping):
        return f"your function returned a {type(value).__name__} (keys {list(value)[:5]}), not numbers"
    if isinstance(value, (collections.abc.Iterator, collections.abc.Set)):
        kind = type(value).__name__
        return (f"your function returned a {kind}, not an array: a `yield`, or a generator expression "
                "where a list or array belongs? Build the array (np.array([...]) or np.stack) and return it")
    dtype = str(getattr(value, "dtype", ""))
    if hasattr(value, "detach") and dtype in ("torch.bfloat16", "torch.float16"):
        return (f"your function returned a {dtype} tensor: it keeps about 3 significant digits, too few to "
                "compare with the float64 reference; compute in float64 (NumPy arrays)")
    if isinstance(value, np.ndarray) and value.dtype == object:
        return f"your function returned an array of Python objects ({_short(value)}), not numbers"
    return None


def _as_numbers(value: Any) -> np.ndarray:
    """``value`` as a float array; raises TypeError/ValueError when it is not numbers."""
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu()
        if str(value.dtype) in ("torch.bfloat16", "torch.float16"):
            value = value.double()
        value = value.numpy()
    return np.asarray(value, dtype=float)


def compare_arrays(got: Any, expected: Any, atol: float = 1e-6, rtol: float = 1e-6) -> str | None:
    """None when ``got`` equals ``expected`` (shape and values, to the tolerances), else what differs."""
    odd = odd_value(got)
    if odd:
        return odd
    try:
        got_arr = _as_numbers(got)
    except (TypeError, ValueError):
        return f"expected an array, got {type(got).__name__}: {_short(got)}"
    expected = np.asarray(expected, dtype=float)
    if got_arr.shape != expected.shape:
        if expected.ndim == 0:
            return f"expected one number, got an array of shape {got_arr.shape}"
        if got_arr.ndim == 0:
            return f"expected an array of shape {expected.shape}, got a single number {float(got_arr):.6g}"
        return f"expected shape {expected.shape}, got shape {got_arr.shape}"
    bad = ~np.isfinite(got_arr)
    if bad.any():
        if expected.ndim == 0:
            return f"got {float(got_arr)} (expected {float(expected):.6g})"
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        return f"got {got_arr[where]} at index {where} (expected {expected[where]:.6g})"
    close = np.isclose(got_arr, expected, atol=atol, rtol=rtol)
    if not close.all():
        if expected.ndim == 0:
            return f"expected {float(expected):.6g}, got {float(got_arr):.6g}"
        where = tuple(int(i) for i in np.argwhere(~close)[0])
        return (f"at index {where} expected {expected[where]:.6g}, got {got_arr[where]:.6g} "
                f"({int((~close).sum())} of {close.size} entries differ)\n  expected: "
                f"{_short(expected)}\n  got:      {_short(got_arr)}")
    return None


def is_close(got: Any, expected: Any, atol: float = 1e-6, rtol: float = 1e-6) -> bool:
    """Does ``got`` equal ``expected`` (arrays, numbers, or tuples of them)? Never raises."""
    if isinstance(expected, tuple):
        return (isinstance(got, (tuple, list)) and len(got) == len(expected)
                and all(is_close(g, e, atol, rtol) for g, e in zip(got, expected)))
    try:
        return compare_arrays(got, expected, atol, rtol) is None
    except Exception:  # noqa: BLE001  a diagnosis must never crash the checker
        return False


def as_array(value: Any, shape) -> np.ndarray | None:
    """``value`` as a finite float array of ``shape``, or None (the comparison already says why)."""
    if odd_value(value):
        return None
    try:
        array = _as_numbers(value)
    except Exception:  # noqa: BLE001
        return None
    if array.shape != tuple(shape) or not np.all(np.isfinite(array)):
        return None
    return array


_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth")


def compare_tuple(names: Sequence[str], order: Sequence[int] | None = None, atol: float = 1e-6,
                  rtol: float = 1e-6) -> Callable[[Any, Any], str | None]:
    """A ``compare(got, expected)`` for functions that return ``len(names)`` arrays.

    The outputs are checked in ``order`` (default: as returned); the message names the first
    wrong one by name and position and says which outputs were right.
    """
    names = tuple(names)
    order = tuple(range(len(names))) if order is None else tuple(order)
    wanted = f"a tuple ({', '.join(names)})"

    def compare(got, expected):
        odd = odd_value(got)
        if odd:
            return f"{odd}; expected {wanted}"
        if not isinstance(got, (tuple, list)) or len(got) != len(names):
            length = f" of length {len(got)}" if isinstance(got, (tuple, list)) else ""
            return f"expected {wanted}, got {type(got).__name__}{length}"
        right = []
        for k in order:
            problem = compare_arrays(got[k], expected[k], atol, rtol)
            if problem:
                where = f"{names[k]} ({_ORDINALS[k]} output)"
                got_shape, shape = _shape(got[k]), np.shape(expected[k])
                if shape and got_shape and got_shape != shape and not odd_value(got[k]):
                    gradient = ", the shape of what it is the gradient of" if names[k].startswith("d") else ""
                    text = f"{where} has shape {got_shape} but must have shape {shape}{gradient}"
                else:
                    text = f"{where} is wrong: {problem}"
                if right:
                    listed = right[0] if len(right) == 1 else f"{', '.join(right[:-1])} and {right[-1]}"
                    text = f"{listed} {'is' if len(right) == 1 else 'are'} right, but {text}"
                return text
            right.append(names[k])
        return None

    return compare


def _shape(value) -> tuple | None:
    try:
        return tuple(_as_numbers(value).shape)
    except Exception:  # noqa: BLE001
        return None


# ------------------------------------------------------------------ calling the reader's function
def _changed(before: Any, after: Any) -> list[str]:
    """Paths (``""``, ``"['W_xz']"``, ``"[1]"``) where ``after`` differs from ``before``."""
    if isinstance(before, np.ndarray):
        if not isinstance(after, np.ndarray) or before.shape != after.shape or not np.array_equal(
                before, after, equal_nan=before.dtype.kind in "fc"):
            return [""]
        return []
    if hasattr(before, "detach"):  # torch tensor
        import torch

        return [] if torch.equal(before, after) else [""]
    if isinstance(before, dict):
        paths = [f"[{k!r}]" for k in before if k not in after] + [f"[{k!r}]" for k in after if k not in before]
        for key in before:
            if key in after:
                paths += [f"[{key!r}]{p}" for p in _changed(before[key], after[key])]
        return paths
    if isinstance(before, (list, tuple)):
        if len(before) != len(after):
            return [""]
        return [f"[{i}]{p}" for i, (b, a) in enumerate(zip(before, after)) for p in _changed(b, a)]
    return []


@contextmanager
def _alarm(seconds: float):
    """Interrupt the code inside after ``seconds`` (main thread on Unix; elsewhere no-op)."""
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def ring(signum, frame):
        raise _OutOfTime()

    previous = signal.signal(signal.SIGALRM, ring)
    start = time.monotonic()
    old_delay, old_interval = signal.setitimer(signal.ITIMER_REAL, max(seconds, 1e-3))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if old_delay > 0:  # someone else's alarm (e.g. a test timeout) was running: give it back
            signal.setitimer(signal.ITIMER_REAL, max(old_delay - (time.monotonic() - start), 1e-3), old_interval)


class ReaderFunction:
    """The reader's function as a checker calls it.

    * Each call gets deep copies of the arguments, so the checker's data stays intact; an
      argument the function changed in place is named (:class:`StopChecking`), since the
      caller's array would have been changed behind its back.
    * All calls share one budget of ``time_limit`` seconds; when it runs out the check stops
      with a message that says so (a loop that never ends is the usual cause).
    * The result of each distinct argument tuple is computed once (hints reuse it).

    ``arg_names`` name the positional arguments in messages (``("x", "h_prev", "params")``).
    """

    def __init__(self, fn: Callable, name: str, arg_names: Sequence[str] = (), time_limit: float | None = None):
        if not callable(fn):
            raise TypeError(f"{name}: expected a function, got {type(fn).__name__}")
        self.fn = fn
        self.name = name
        self.arg_names = tuple(arg_names)
        self.time_limit = TIME_LIMIT if time_limit is None else time_limit
        self.deadline = time.monotonic() + self.time_limit
        self.calls = 0
        self._results: dict[tuple[int, ...], tuple[bool, Any]] = {}
        self._keep: list = []  # keep argument tuples alive, so their ids stay unique

    def _out_of_time(self) -> StopChecking:
        return StopChecking(
            f"{self.name}: stopped after {self.time_limit:g} s: your function used the checker's whole time "
            f"budget ({self.calls} call(s) so far; the reference takes milliseconds). Is there a loop that never "
            "ends, e.g. a `while` whose condition your code never changes?")

    def __call__(self, *args):
        key = tuple(id(a) for a in args)
        if key not in self._results:
            self._keep.append(args)
            self._results[key] = self._run(args)
        ok, value = self._results[key]
        if ok:
            return value
        raise value

    def _run(self, args) -> tuple[bool, Any]:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise self._out_of_time()
        try:
            copies = copy.deepcopy(args)
        except Exception:  # noqa: BLE001  an argument that cannot be copied is passed as it is
            copies = args
        self.calls += 1
        try:
            with _alarm(remaining):
                result = (True, self.fn(*copies))
        except _OutOfTime:
            raise self._out_of_time() from None
        except NotImplementedError:
            raise CheckFailed(f"{self.name}: not implemented yet (the function raised NotImplementedError)") from None
        except Exception as err:  # noqa: BLE001  reported by check_cases, with the case
            result = (False, err)
        for index, (before, after) in enumerate(zip(args, copies)):
            if before is after:
                continue
            paths = _changed(before, after)
            if paths:
                arg = self.arg_names[index] if index < len(self.arg_names) else f"argument {index + 1}"
                where = ", ".join(f"{arg}{p}" for p in paths[:3])
                raise StopChecking(
                    f"{self.name}: your function changed its input {where} in place (`{arg} -= ...`, "
                    f"`{arg} *= ...` or `{arg}[...] = ...`): the caller's data is modified behind its back. "
                    f"Compute into a new array instead (`{arg} = {arg} - ...`).")
        return result


# ------------------------------------------------------------------ running the cases
def check_cases(
    fn: Callable,
    cases: Sequence[tuple[str, tuple, Any]],
    *,
    name: str,
    compare: Callable[[Any, Any], str | None] | None = None,
    hint: Callable[[str, Any, Any], str | None] | None = None,
    error_hint: Callable[[str, BaseException], str | None] | None = None,
    arg_names: Sequence[str] = (),
    quiet: bool = False,
) -> None:
    """Call ``fn(*args)`` for each ``(description, args, expected)`` case.

    ``fn`` may already be a :class:`ReaderFunction` (when the hints call it too); otherwise
    it is wrapped in one. ``compare(got, expected)`` returns None when they agree, else a
    text saying how they differ (default :func:`compare_arrays`). ``hint(description, got,
    expected)`` may add advice about a likely mistake; it only sees values the function
    returned, and a hint that fails is left out rather than hiding the real message.
    ``error_hint(description, error)`` may add advice when the function raised. Raises
    :class:`CheckFailed` at the first failing case; prints one line when all pass.
    """
    run = fn if isinstance(fn, ReaderFunction) else ReaderFunction(fn, name, arg_names)
    compare = compare or compare_arrays

    def advice(make, *args) -> str:
        if make is None:
            return ""
        try:
            extra = make(*args)
        except StopChecking:
            raise
        except Exception:  # noqa: BLE001  a hint must never crash the checker
            extra = None
        return f"\n  hint: {extra}" if extra else ""

    for description, args, expected in cases:
        try:
            got = run(*args)
        except CheckFailed:
            raise
        except Exception as err:  # noqa: BLE001
            message = f"{name}: case '{description}': raised {type(err).__name__}: {err}"
            raise CheckFailed(message + advice(error_hint, description, err)) from err
        odd = odd_value(got)
        if odd:
            raise CheckFailed(f"{name}: case '{description}': {odd}")
        problem = compare(got, expected)
        if problem:
            raise CheckFailed(f"{name}: case '{description}': {problem}" + advice(hint, description, got, expected))
    if not quiet:
        print(f"✓ {name}: all {len(cases)} cases pass")

"""Argument checks shared by every module, so bad settings get one clear message.

Each function returns the value in its plain Python type (``np.int64(3)`` -> ``3``) or raises a
``TypeError`` / ``ValueError`` that names the argument and what it got::

    epochs = positive_int("epochs", epochs)
    lr = positive_float("lr", lr)
    reverse = boolean("reverse_source", reverse)
"""
from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["positive_int", "nonnegative_int", "positive_float", "finite_float", "boolean", "one_of"]


def _integer(name: str, value) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}: {value!r}")
    return int(value)


def positive_int(name: str, value) -> int:
    """``value`` as an ``int`` >= 1 (NumPy integers accepted; bools, floats and strings refused)."""
    value = _integer(name, value)
    if value < 1:
        raise ValueError(f"{name} must be a positive int, got {value}")
    return value


def nonnegative_int(name: str, value) -> int:
    """``value`` as an ``int`` >= 0."""
    value = _integer(name, value)
    if value < 0:
        raise ValueError(f"{name} must be an int >= 0, got {value}")
    return value


def finite_float(name: str, value, *, low: float | None = None, high: float | None = None,
                 low_open: bool = False) -> float:
    """``value`` as a finite ``float`` in ``[low, high]`` (``(low, high]`` with ``low_open``).

    Refuses strings, bools, NaN and infinities: ``lr=float("inf")`` would train a model of NaN
    parameters without another word.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}: {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    if low is not None and (value <= low if low_open else value < low):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {value}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value}")
    return value


def positive_float(name: str, value) -> float:
    """``value`` as a finite ``float`` > 0."""
    return finite_float(name, value, low=0.0, low_open=True)


def boolean(name: str, value) -> bool:
    """``value`` as a ``bool``; only True/False (and NumPy bools) are accepted.

    ``reverse_source="no"`` is a truthy string: reading it as True would silently do the
    opposite of what was meant.
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__}: {value!r}")
    return bool(value)


def one_of(name: str, value, choices):
    """``value`` if it is one of ``choices``, else a ValueError listing them."""
    try:
        ok = value in choices
    except TypeError:  # an unhashable value tested against a set
        ok = False
    if not ok:
        raise ValueError(f"{name} must be one of {sorted(map(repr, choices))}, got {value!r}")
    return value

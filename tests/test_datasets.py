"""Tests of utils.datasets: synthetic tasks, the date data set and CMUdict pairs."""
from __future__ import annotations

import numpy as np
import pytest

import utils
from utils.datasets import TASK_ALPHABET, make_task


# ------------------------------------------------------------------ synthetic tasks
@pytest.mark.parametrize("task", ["copy", "reverse", "sort", "addition"])
def test_make_task_is_deterministic_and_seed_dependent(task):
    first = make_task(task, 50, min_len=3, max_len=12, seed=7)
    assert first == make_task(task, 50, min_len=3, max_len=12, seed=7)
    assert first != make_task(task, 50, min_len=3, max_len=12, seed=8)
    assert len(first) == 50
    assert all(isinstance(s, str) and isinstance(t, str) and s and t for s, t in first)


def test_make_task_does_not_touch_global_random_state():
    np.random.seed(123)
    expected = np.random.rand()
    np.random.seed(123)
    make_task("copy", 20, seed=1)
    assert np.random.rand() == expected


@pytest.mark.parametrize("task", ["copy", "reverse", "sort"])
def test_letter_tasks_targets_and_lengths(task):
    pairs = make_task(task, 300, min_len=5, max_len=60, seed=0)
    lengths = [len(s) for s, _ in pairs]
    assert min(lengths) >= 5 and max(lengths) <= 60
    # Uniform in [5, 60]: both ends of the range are reachable and the mean is near 32.5.
    assert abs(np.mean(lengths) - 32.5) < 3
    for source, target in pairs:
        assert set(source) <= set(TASK_ALPHABET)
        expected = {"copy": source, "reverse": source[::-1],
                    "sort": "".join(sorted(source))}[task]
        assert target == expected


def test_fixed_length_when_min_equals_max():
    for task in ("copy", "reverse", "sort"):
        assert {len(s) for s, _ in make_task(task, 40, min_len=17, max_len=17)} == {17}
    for source, _ in make_task("addition", 40, min_len=4, max_len=4):
        a, b = source.split("+")
        assert len(a) == len(b) == 4


def test_addition_is_correct_with_operands_of_length_digits():
    pairs = make_task("addition", 400, min_len=1, max_len=30, seed=3)
    assert make_task("addition", 1, min_len=2, max_len=2, seed=0)[0][0].count("+") == 1
    for source, target in pairs:
        a, b = source.split("+")
        assert len(a) == len(b), source  # both operands have `length` digits
        assert a == str(int(a)) and b == str(int(b)), "no leading zeros"
        assert target == str(int(a) + int(b))
    # Long operands (beyond int64) are exact.
    source, target = make_task("addition", 1, min_len=60, max_len=60, seed=0)[0]
    a, b = source.split("+")
    assert len(a) == 60 and int(target) == int(a) + int(b)


def test_make_task_is_exported_from_utils():
    assert utils.make_task is make_task


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(task="shuffle", n=3), ValueError, "unknown task 'shuffle'"),
    (dict(task="copy", n=0), ValueError, "n must be at least 1"),
    (dict(task="copy", n=2.5), TypeError, "n must be an int"),
    (dict(task="copy", n=3, min_len=0), ValueError, "min_len must be at least 1"),
    (dict(task="copy", n=3, min_len=8, max_len=4), ValueError, "must not exceed max_len"),
    (dict(task="copy", n=3, seed=-1), ValueError, "seed must be at least 0"),
])
def test_make_task_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        make_task(kwargs.pop("task"), kwargs.pop("n"), **kwargs)

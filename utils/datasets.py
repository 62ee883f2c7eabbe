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
* ``load_pairs(path)`` / ``save_pairs(pairs, path)``: any (source, target) pairs of your own,
  one ``source<TAB>target`` line each (no header).

The date and CMUdict files are generated once, committed under ``data/`` and read here with
the standard library only: nothing is downloaded and Babel/cmudict are not needed to read
them. Every loader reads through one TSV reader that validates what it reads (header, column
count, empty or whitespace-only fields, UTF-8, integer spans inside the source) and names the
file and line of the first problem.
See ``data/README.md`` for sources, licences, sizes and checksums.
"""
from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from .validate import boolean, nonnegative_int, positive_int

__all__ = [
    "TASKS",
    "TASK_ALPHABET",
    "DISTINCT_ALPHABET",
    "make_task",
    "DATE_SPLITS",
    "DATE_COLUMNS",
    "DateExample",
    "load_dates",
    "load_date_examples",
    "date_alignment",
    "CMUDICT_SPLITS",
    "CMUDICT_COLUMNS",
    "ARPABET",
    "load_cmudict",
    "load_pairs",
    "save_pairs",
]

#: The repository root and the folder holding the shipped data files.
REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_ROOT = REPO_ROOT / "data"

# ---------------------------------------------------------------------------------------
# 1. Synthetic sequence tasks
# ---------------------------------------------------------------------------------------

#: The task names ``make_task`` knows.
TASKS = ("copy", "reverse", "sort", "addition")
#: Symbols of the copy/reverse/sort sources: the 26 lowercase letters a-z.
TASK_ALPHABET = "abcdefghijklmnopqrstuvwxyz"
#: Symbols of ``make_task(..., distinct=True)``: 62, so sources up to 62 long repeat none.
DISTINCT_ALPHABET = TASK_ALPHABET + TASK_ALPHABET.upper() + "0123456789"


def make_task(task: str, n: int, *, min_len: int = 5, max_len: int = 10,
              seed: int = 0, distinct: bool = False) -> list[tuple[str, str]]:
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

    ``distinct=True`` (copy/reverse/sort only) draws each source's symbols *without
    replacement* from ``DISTINCT_ALPHABET`` (a-z, A-Z, 0-9: 62 symbols), so no symbol occurs
    twice in a source and ``max_len`` can be at most 62. Every source position is then
    identified by its content, which is what dot-product attention (with no notion of
    position) can look up; chapter 03 explains why that matters.

    The pairs come from ``numpy.random.default_rng(seed)`` (no global random state): the
    same arguments give the same list. Pairs may repeat (short lengths have few strings).
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    n = positive_int("n", n)
    min_len = positive_int("min_len", min_len)
    max_len = positive_int("max_len", max_len)
    if min_len > max_len:
        raise ValueError(f"min_len ({min_len}) must not exceed max_len ({max_len})")
    seed = nonnegative_int("seed", seed)
    distinct = boolean("distinct", distinct)
    if distinct and task == "addition":
        raise ValueError("distinct=True applies to copy, reverse and sort, not addition")
    if distinct and max_len > len(DISTINCT_ALPHABET):
        raise ValueError(
            f"distinct=True draws without replacement from {len(DISTINCT_ALPHABET)} symbols, "
            f"so max_len can be at most {len(DISTINCT_ALPHABET)}, got {max_len}"
        )

    rng = np.random.default_rng(seed)
    lengths = rng.integers(min_len, max_len + 1, size=n)  # (n,)
    pairs: list[tuple[str, str]] = []
    if task == "addition":
        for length in lengths:
            a, b = (_random_number(rng, int(length)) for _ in range(2))
            pairs.append((f"{a}+{b}", str(a + b)))
        return pairs
    letters = np.array(list(DISTINCT_ALPHABET if distinct else TASK_ALPHABET))
    for length in lengths:
        if distinct:
            source = "".join(rng.choice(letters, size=int(length), replace=False))
        else:
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


# ---------------------------------------------------------------------------------------
# Reading the shipped TSV files (shared by the date and CMUdict loaders)
# ---------------------------------------------------------------------------------------

def _display(path: Path) -> str:
    """``data/dates/train.tsv`` for shipped files, the path as given otherwise."""
    try:
        return path.resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return str(path)


def _check_split(split, splits: tuple[str, ...], what: str) -> str:
    if split not in splits:
        raise ValueError(f"unknown {what} split {split!r}; expected one of {', '.join(splits)}")
    return split


def _split_path(root, default: Path, split: str) -> Path:
    folder = default if root is None else Path(root)
    path = folder / f"{split}.tsv"
    if not path.is_file():
        raise FileNotFoundError(
            f"{_display(path)} not found: the data files ship with the repository "
            "(regenerate them with `make data`)")
    return path


def _read_tsv(path: Path, columns: tuple[str, ...], *, header: bool = True) -> list[tuple[int, list[str]]]:
    """(line number, fields) of every data line of a UTF-8, tab-separated file.

    The one reader of every data file: the shipped dates and CMUdict files (a first line
    naming ``columns``) and pairs files (``header=False``). Raises ValueError naming the file
    and line for bad UTF-8, a wrong header, an empty line, a wrong number of columns or an
    empty or whitespace-only field; FileNotFoundError / IsADirectoryError for a path that is
    not a file.
    """
    name = _display(path)
    if path.is_dir():
        raise IsADirectoryError(f"{name} is a folder, not a data file: pass the path of the .tsv file inside it")
    if not path.exists():
        raise FileNotFoundError(f"no such data file: {name}")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise ValueError(f"{name} line {line}: not valid UTF-8 ({err.reason} at byte "
                         f"{err.start})") from None
    # An editor may start the file with a byte-order mark and a Windows checkout may turn LF
    # into CRLF: both are dropped, so save_pairs refuses fields that would lose them.
    text = text.removeprefix("\ufeff")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the final newline
    lines = [line.removesuffix("\r") for line in lines]
    expected_header = "\t".join(columns)
    if text.strip() == "":
        wanted = f"the header line {expected_header!r}" if header else f"one '{'<TAB>'.join(columns)}' line per pair"
        raise ValueError(f"{name} is empty: expected {wanted}")
    first = 1
    if header:
        if lines[0] != expected_header:
            raise ValueError(f"{name} line 1: expected the header {expected_header!r}, "
                             f"got {lines[0][:80]!r}")
        first = 2
    rows = []
    for number, line in enumerate(lines[first - 1:], start=first):
        if line == "":
            raise ValueError(f"{name} line {number}: empty line")
        fields = line.split("\t")
        if len(fields) != len(columns):
            raise ValueError(f"{name} line {number}: expected {len(columns)} tab-separated "
                             f"columns, got {len(fields)}: {line[:60]!r}")
        for column, value in zip(columns, fields):
            if value.strip() == "":
                what = "empty" if value == "" else f"only whitespace ({value!r})"
                raise ValueError(f"{name} line {number}: the {column} column is {what}")
        rows.append((number, fields))
    if not rows:
        raise ValueError(f"{name} has a header but no data lines")
    return rows


def _file_key(path: Path) -> tuple[str, int, int]:
    """Cache key that changes when the file does (so tests that rewrite a file see it)."""
    stat = path.stat()
    return str(path.resolve()), stat.st_mtime_ns, stat.st_size


# ---------------------------------------------------------------------------------------
# 2. Dates across locales
# ---------------------------------------------------------------------------------------

#: The date splits: ``test`` has the training distribution, ``test_unseen`` held-out formats.
DATE_SPLITS = ("train", "valid", "test", "test_unseen")
#: The columns of ``data/dates/<split>.tsv`` (after a header line with these names).
DATE_COLUMNS = ("source", "target", "locale", "pattern", "year_start", "year_end",
                "month_start", "month_end", "day_start", "day_end")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ASCII_DIGITS = re.compile(r"[0-9]+")


class _Spans(dict):
    """The field spans of a :class:`DateExample`: a dict that refuses changes.

    Loaded examples are cached and shared by every later load (and by ``date_alignment``), so
    an edit to one would silently change them all.
    """

    def _read_only(self, *args, **kwargs):
        raise TypeError("DateExample.spans is read-only (every load shares it); copy it first: dict(example.spans)")

    __setitem__ = __delitem__ = __ior__ = clear = pop = popitem = setdefault = update = _read_only

    def __reduce__(self):  # copy and pickle without calling __setitem__
        return (_Spans, (dict(self),))


@dataclass(frozen=True)
class DateExample:
    """One date as written in a locale, its ISO 8601 form, and where its fields are.

    source: the date as written, e.g. ``"Tuesday, March 5, 2024"``.
    target: ISO 8601 ``"2024-03-05"`` (always 10 characters, YYYY-MM-DD).
    locale: CLDR locale, e.g. ``"en_US"``.
    pattern: the format: ``full`` (with weekday), ``long``, ``medium``, ``short`` (CLDR's
    standard formats), ``numeric`` / ``numeric+weekday`` / ``medium+weekday`` (CLDR skeletons
    yMd, yMEd, yMMMEd), with ``+lower`` when the text was lowercased.
    spans: ``{"year": (start, end), "month": ..., "day": ...}``, half-open character ranges
    of ``source``: ``source[start:end]`` is the field as written (``"2024"`` or ``"24"``,
    ``"March"``/``"Mar"``/``"3"``/``"03"``/``"3월"``, ``"5"``/``"05"``). Read-only: every
    load of a split shares the same examples, so none can be changed.
    """

    source: str
    target: str
    locale: str
    pattern: str
    spans: dict = field(hash=False)

    @property
    def has_weekday(self) -> bool:
        """Does the source name the weekday (a field the target does not need)?"""
        return self.pattern.startswith("full") or "+weekday" in self.pattern

    @property
    def lowercase(self) -> bool:
        """Was the source lowercased (``+lower`` formats)?"""
        return self.pattern.endswith("+lower")

    def field_text(self, name: str) -> str:
        """The source characters of field ``name`` ("year", "month" or "day")."""
        start, end = self.spans[name]
        return self.source[start:end]


def _parse_date_row(name: str, number: int, fields: list[str]) -> DateExample:
    source, target, locale, pattern = fields[:4]
    if not _ISO_DATE.fullmatch(target):
        raise ValueError(f"{name} line {number}: target {target!r} is not an ISO date YYYY-MM-DD")
    try:
        dt.date.fromisoformat(target)
    except ValueError:
        raise ValueError(f"{name} line {number}: target {target!r} is not a real date") from None
    numbers = fields[4:]
    # ASCII digits only: str.isdigit() also accepts "²", which int() then refuses.
    if not all(_ASCII_DIGITS.fullmatch(v) for v in numbers):
        column, value = next((c, v) for c, v in zip(DATE_COLUMNS[4:], numbers) if not _ASCII_DIGITS.fullmatch(v))
        raise ValueError(f"{name} line {number}: {column} must be a non-negative integer, "
                         f"got {value!r}")
    ys, ye, ms, me, ds, de = map(int, numbers)
    spans = {"year": (ys, ye), "month": (ms, me), "day": (ds, de)}
    # What a numeric field may say: the target's digits, or (year) its last two, or (month,
    # day) without the leading zero. Names ("March", "3월") are checked by the generator.
    allowed = {"year": (target[:4], target[2:4]),
               "month": (target[5:7], target[5:7].lstrip("0")),
               "day": (target[8:10], target[8:10].lstrip("0"))}
    for slot, (start, end) in spans.items():
        if not 0 <= start < end <= len(source):
            raise ValueError(f"{name} line {number}: {slot} span [{start}, {end}) is not inside "
                             f"the {len(source)}-character source {source!r}")
        text = source[start:end]
        if text.isdigit() and text not in allowed[slot]:
            raise ValueError(f"{name} line {number}: the {slot} span holds {text!r}, which does "
                             f"not match the target {target}")
    return DateExample(source, target, locale, pattern, _Spans(spans))


@functools.lru_cache(maxsize=16)
def _load_date_file(key: tuple[str, int, int]) -> tuple[DateExample, ...]:
    path = Path(key[0])
    name = _display(path)
    return tuple(_parse_date_row(name, number, fields)
                 for number, fields in _read_tsv(path, DATE_COLUMNS))


def load_date_examples(split: str, *, root: str | Path | None = None) -> list[DateExample]:
    """The :class:`DateExample` s of a date split, in file order.

    split: ``"train"`` (20,000), ``"valid"`` (1,000), ``"test"`` (2,000, same locales and
    formats as train) or ``"test_unseen"`` (2,000, formats and locales never seen in
    training). root: folder holding ``<split>.tsv`` (default ``data/dates``).
    Raises ValueError naming the file and line if the file is malformed.
    """
    split = _check_split(split, DATE_SPLITS, "date")
    path = _split_path(root, DATA_ROOT / "dates", split)
    return list(_load_date_file(_file_key(path)))


def load_dates(split: str, *, root: str | Path | None = None) -> list[tuple[str, str]]:
    """(source, ISO target) pairs of a date split, e.g. ``("5 mars 2024", "2024-03-05")``.

    Same order and arguments as :func:`load_date_examples`.
    """
    return [(e.source, e.target) for e in load_date_examples(split, root=root)]


def date_alignment(example: DateExample) -> np.ndarray:
    """The true alignment of the ISO target's characters to the source's characters.

    Returns a float array (10, len(example.source)): row i is target character i of
    ``YYYY-MM-DD``. The four year rows spread weight 1 evenly over the year span of the
    source, the two month rows over the month span, the two day rows over the day span; the
    two ``-`` rows are all zero (no source character produces them). Each non-zero row sums
    to 1, like a row of attention weights, so the two can be compared directly.
    """
    if not isinstance(example, DateExample):
        raise TypeError(f"expected a DateExample, got {type(example).__name__}")
    alignment = np.zeros((10, len(example.source)))  # (target chars, source chars)
    for slot, rows in (("year", range(0, 4)), ("month", range(5, 7)), ("day", range(8, 10))):
        start, end = example.spans[slot]
        alignment[list(rows), start:end] = 1.0 / (end - start)
    return alignment


# ---------------------------------------------------------------------------------------
# 3. CMUdict: grapheme-to-phoneme pairs
# ---------------------------------------------------------------------------------------

#: The CMUdict splits (10,000 / 1,000 / 1,000 words; no word in two splits).
CMUDICT_SPLITS = ("train", "valid", "test")
#: The columns of ``data/cmudict/<split>.tsv`` (after a header line with these names).
CMUDICT_COLUMNS = ("word", "phonemes")
_WORD = re.compile(r"[a-z]+")
_VOWELS = ("AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY",
           "UH", "UW")
_CONSONANTS = ("B", "CH", "D", "DH", "F", "G", "HH", "JH", "K", "L", "M", "N", "NG", "P",
               "R", "S", "SH", "T", "TH", "V", "W", "Y", "Z", "ZH")
#: The 39 ARPAbet phonemes of CMUdict, vowels with each stress digit: 69 symbols.
ARPABET = frozenset(_CONSONANTS) | {v + stress for v in _VOWELS for stress in "012"}


@functools.lru_cache(maxsize=8)
def _load_cmudict_file(key: tuple[str, int, int]) -> tuple[tuple[str, str], ...]:
    path = Path(key[0])
    name = _display(path)
    pairs = []
    for number, (word, phonemes) in _read_tsv(path, CMUDICT_COLUMNS):
        if not _WORD.fullmatch(word):
            raise ValueError(f"{name} line {number}: word {word!r} is not lowercase letters a-z")
        for phoneme in phonemes.split(" "):
            if phoneme not in ARPABET:
                raise ValueError(f"{name} line {number}: {phoneme!r} in {phonemes!r} is not an "
                                 "ARPAbet phoneme (vowels carry a stress digit 0/1/2; one space "
                                 "between phonemes)")
        pairs.append((word, phonemes))
    return tuple(pairs)


def load_cmudict(split: str, *, root: str | Path | None = None) -> list[tuple[str, str]]:
    """(word, phonemes) pairs from the CMU Pronouncing Dictionary, e.g. ``("cat", "K AE1 T")``.

    split: ``"train"`` (10,000 words), ``"valid"`` (1,000) or ``"test"`` (1,000); no word is
    in two splits. Words are 2-15 lowercase letters; phonemes are ARPAbet symbols separated
    by single spaces, vowels keep the dictionary's stress digit (0 none, 1 primary,
    2 secondary); one pronunciation per word (the dictionary's first). Sorted by word.
    root: folder holding ``<split>.tsv`` (default ``data/cmudict``).
    Raises ValueError naming the file and line if the file is malformed.
    """
    split = _check_split(split, CMUDICT_SPLITS, "CMUdict")
    path = _split_path(root, DATA_ROOT / "cmudict", split)
    return list(_load_cmudict_file(_file_key(path)))


# ---------------------------------------------------------------------------------------
# 4. Pairs files of your own
# ---------------------------------------------------------------------------------------

PAIR_COLUMNS = ("source", "target")


def load_pairs(path: str | Path) -> list[tuple[str, str]]:
    """The (source, target) pairs of a file with one ``source<TAB>target`` line each.

    UTF-8, no header, no quoting; one final newline is optional. Read by the same reader as
    the shipped data, so a problem raises a ValueError naming the file and line: bad UTF-8,
    an empty line, a line without exactly two columns, an empty or whitespace-only field.
    A missing path raises FileNotFoundError, a folder IsADirectoryError.
    """
    path = Path(path)
    return [(source, target) for _, (source, target) in _read_tsv(path, PAIR_COLUMNS, header=False)]


def save_pairs(pairs: Iterable[tuple[str, str]], path: str | Path) -> Path:
    """Write pairs as ``source<TAB>target`` lines (UTF-8) that :func:`load_pairs` reads back
    unchanged; returns the path.

    Each pair is a tuple or list of two non-empty strings. Refused, because they could not come
    back as written: a tab, newline or carriage return in a field (the reader drops a line's
    final ``\\r``), a byte-order mark U+FEFF (dropped at the start of a file), a field of only
    whitespace (the reader refuses it).
    """
    path = Path(path)
    if isinstance(pairs, (str, bytes)):
        raise TypeError("pairs must be a list of (source, target) pairs, not one string")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder: pass the path of the file to write, e.g. {path / 'pairs.tsv'}")
    lines = []
    for i, pair in enumerate(pairs):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            what = f"the string {pair!r}" if isinstance(pair, str) else f"{type(pair).__name__} {pair!r}"
            raise ValueError(f"pair {i} is {what}, not a (source, target) pair of two strings")
        for column, value in zip(PAIR_COLUMNS, pair):
            if not isinstance(value, str):
                raise TypeError(f"pair {i}: the {column} must be a string, got {type(value).__name__}: {value!r}")
            if value.strip() == "":
                raise ValueError(f"pair {i}: the {column} is {'empty' if value == '' else 'only whitespace'}: {pair!r}")
            bad = next((c for c in "\t\n\r\ufeff" if c in value), None)
            if bad is not None:
                raise ValueError(f"pair {i}: the {column} contains {bad!r}, which a pairs file cannot hold "
                                 f"(tabs, newlines, carriage returns and U+FEFF are refused): {pair!r}")
        lines.append(f"{pair[0]}\t{pair[1]}\n")
    if not lines:
        raise ValueError("no pairs to save")
    path.write_text("".join(lines), encoding="utf-8", newline="\n")
    return path

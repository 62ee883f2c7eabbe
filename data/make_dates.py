"""Generate the multi-locale date data set (data/dates/*.tsv) from CLDR patterns via Babel.

Run through ``make data`` (``data/make_datasets.py``); needs the ``[data]`` extra (Babel).
Readers never run this: the generated files are committed and ``utils.load_dates`` reads
them with the standard library.

What it does, in order:

1. **Formats.** For every locale, take CLDR's date patterns through Babel: the four standard
   ones (``full``, ``long``, ``medium``, ``short``) and three from CLDR's skeleton table
   (``numeric`` = skeleton ``yMd``, ``numeric+weekday`` = ``yMEd``, ``medium+weekday`` =
   ``yMMMEd``), plus a ``+lower`` copy of every format that contains letters that lowercasing
   changes. A pattern that repeats an earlier one of the same locale (en_GB's short and
   numeric are both ``dd/MM/y``) is kept once, under the first name. A *variant* is one
   (locale, format) pair.
2. **Rendering with spans.** Each pattern is split into CLDR fields (``tokenize_pattern``)
   and rendered field by field from the locale's month and weekday names, recording which
   characters hold the year (``y``), the month (``M``/``L``) and the day (``d``). Every
   rendered string is checked against Babel's own ``format_date``/``format_skeleton``.
3. **No ambiguity.** Without a locale tag ``5/3/24`` is 3 May in en_US and 5 March in es_ES.
   Variants are ranked (training locales in the order of ``TRAIN_LOCALES``, then held-out
   ones); a string that an earlier variant writes for a *different* date is never emitted
   by a later one. So every source string has exactly one ISO reading in the whole data set
   (es_ES ``d/M/yy`` keeps days 13-31, where ``5/3`` vs ``3/5`` cannot be confused).
   Every candidate string is parsed back with every variant that can write strings of its
   shape (``Index.writers``), so the check covers all 36,525 dates of every variant.
4. **Splits.** ``train`` (20,000), ``valid`` (1,000) and ``test`` (2,000) are drawn from the
   same variants (seen locales and formats), each variant equally often, dates uniform over
   1950-01-01 .. 2049-12-31. ``test_unseen`` (2,000) uses only *held-out* variants: the
   ``medium+weekday`` format of every training locale, and the formats of locales never used
   in training (``HELD_OUT_LOCALES``) that differ from every other format. A held-out
   variant that writes the same strings as an earlier variant for at least half of 200 probe
   dates is not new and is dropped (en_CA's long format is en_US's); a held-out string that
   any training variant could write is skipped.
   No source string appears twice in the whole data set, so no split overlaps another.

Two-digit years (``yy``, e.g. en_US short ``3/5/24``) are unambiguous because every date is
in 1950-2049: ``50``-``99`` are 1950-1999 and ``00``-``49`` are 2000-2049.
"""
from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SEED = 20240305
FIRST_DATE = dt.date(1950, 1, 1)
LAST_DATE = dt.date(2049, 12, 31)

# Training locales, in priority order (an earlier locale's reading of an ambiguous string
# wins). Year-first: ko_KR, ja_JP, zh_CN, hu_HU; year-last: the others.
TRAIN_LOCALES = ("en_US", "en_GB", "fr_FR", "de_DE", "es_ES", "it_IT", "ru_RU",
                 "ko_KR", "ja_JP", "zh_CN", "hu_HU")
# Locales never seen in training: regional variants of trained languages, whose formats that
# differ from the trained ones are new arrangements of known words (en_CA y-MM-dd, fr_CA
# "mar. 2024-03-05"), and Portuguese, a language never seen in training.
HELD_OUT_LOCALES = ("en_CA", "fr_CA", "es_MX", "pt_BR")
# The format held out of training in every training locale.
HELD_OUT_KINDS = ("medium+weekday",)

# (kind, how to get the pattern): "std" = Locale.date_formats[...], "skel" = skeleton table.
KINDS = (
    ("full", "std", "full"),
    ("long", "std", "long"),
    ("medium", "std", "medium"),
    ("short", "std", "short"),
    ("numeric", "skel", "yMd"),
    ("numeric+weekday", "skel", "yMEd"),
    ("medium+weekday", "skel", "yMMMEd"),
)

SPLIT_SIZES = {"train": 20_000, "valid": 1_000, "test": 2_000, "test_unseen": 2_000}
COLUMNS = ("source", "target", "locale", "pattern", "year_start", "year_end",
           "month_start", "month_end", "day_start", "day_end")
# A held-out variant is "seen" (and dropped) if a training variant writes the same string for
# at least this fraction of probe dates.
SEEN_FORMAT_FRACTION = 0.5


@dataclass
class Variant:
    """One (locale, format) pair: how to write any date, and where its fields are."""

    locale: str
    kind: str                      # "long", "short+lower", ...
    pattern: str                   # the CLDR pattern, e.g. "EEEE, MMMM d, y"
    babel_format: tuple            # ("std", "full") or ("skel", "yMEd"), to check against Babel
    lower: bool
    held_out: bool
    rank: int = 0
    tokens: list = field(default_factory=list, repr=False)
    names: dict = field(default_factory=dict, repr=False)

    @property
    def key(self) -> str:
        return f"{self.locale}/{self.kind}"

    def render(self, date: dt.date) -> tuple[str, dict[str, tuple[int, int]]]:
        """The source string for ``date`` and the [start, end) spans of year, month, day."""
        parts: list[str] = []
        spans: dict[str, tuple[int, int]] = {}
        pos = 0
        for kind, value in self.tokens:
            if kind == "chars":
                text = value
            else:
                letter, count = value
                text = self._field(letter, count, date)
                slot = {"y": "year", "M": "month", "L": "month", "d": "day"}.get(letter)
                if slot is not None:
                    if slot in spans:
                        raise ValueError(f"{self.key}: pattern {self.pattern!r} has two {slot} fields")
                    spans[slot] = (pos, pos + len(text))
            parts.append(text)
            pos += len(text)
        source = "".join(parts)
        if self.lower:
            lowered = source.lower()
            if len(lowered) != len(source):  # would shift the spans
                raise ValueError(f"{self.key}: lowercasing {source!r} changes its length")
            source = lowered
        return source, spans

    def _field(self, letter: str, count: int, date: dt.date) -> str:
        if letter == "y":
            return f"{date.year % 100:02d}" if count == 2 else f"{date.year:0{count}d}"
        if letter == "d":
            return f"{date.day:0{count}d}"
        if letter in "ML":
            if count <= 2:
                return f"{date.month:0{count}d}"
            context = "format" if letter == "M" else "stand-alone"
            width = "abbreviated" if count == 3 else "wide"
            return self.names[("months", context, width)][date.month]
        if letter in "Ec":
            if letter == "c" and count < 3:
                raise ValueError(f"{self.key}: numeric weekday field {letter * count} unsupported")
            context = "format" if letter == "E" else "stand-alone"
            width = "wide" if count == 4 else "abbreviated"
            return self.names[("days", context, width)][date.weekday()]
        raise ValueError(f"{self.key}: unsupported CLDR field {letter * count!r} in {self.pattern!r}")


def build_variants() -> list[Variant]:
    """Every (locale, format) variant, ranked: training variants first, then held-out ones."""
    from babel import Locale
    from babel.dates import tokenize_pattern

    variants: list[Variant] = []
    for locale_name in TRAIN_LOCALES + HELD_OUT_LOCALES:
        locale = Locale.parse(locale_name)
        names = {}
        for table_name in ("months", "days"):
            table = getattr(locale, table_name)
            for context in ("format", "stand-alone"):
                for width in ("abbreviated", "wide"):
                    names[(table_name, context, width)] = dict(table[context][width])
        seen_patterns: set[str] = set()
        for kind, source, name in KINDS:
            if source == "std":
                pattern = locale.date_formats[name].pattern
            else:
                pattern = locale.datetime_skeletons[name].pattern
            if pattern in seen_patterns:
                continue
            seen_patterns.add(pattern)
            held_out = locale_name in HELD_OUT_LOCALES or kind in HELD_OUT_KINDS
            for lower in (False, True):
                variant = Variant(locale_name, kind + ("+lower" if lower else ""), pattern,
                                  (source, name), lower, held_out,
                                  tokens=tokenize_pattern(pattern), names=names)
                if lower and not _lowercasing_changes(variant):
                    continue
                variants.append(variant)
    variants.sort(key=lambda v: v.held_out)  # stable: training variants first
    for rank, variant in enumerate(variants):
        variant.rank = rank
    return variants


def _lowercasing_changes(variant: Variant) -> bool:
    """Does lowercasing change this format's strings (all months and weekdays of 2001)?"""
    upper = Variant(**{**variant.__dict__, "lower": False})  # same format, not lowercased
    return any(upper.render(d)[0] != upper.render(d)[0].lower() for d in _one_year())


def _one_year() -> list[dt.date]:
    # 2001 has every weekday in every month; enough to see every name a format can write.
    return [dt.date(2001, 1, 1) + dt.timedelta(days=i) for i in range(365)]


def _shape(text: str) -> str:
    """The string with every run of digits replaced by '#': equal strings have equal shapes."""
    return re.sub(r"\d+", "#", text)


class Index:
    """Which variants can write a given string, and for which dates (exactly).

    Two variants can only write the same string if they share a *shape* (the string with
    each run of digits replaced by '#'; names and literal text stay). The shapes a variant
    can write all occur in one year (every month, every weekday). ``writers(text)`` parses
    ``text`` with a regular expression built from each variant of its shape, and counts a
    parse only if rendering the parsed date gives ``text`` back. So the answer is exact
    without rendering all 36,525 dates of every variant.
    """

    def __init__(self, variants: list[Variant]):
        self.by_shape: dict[str, list[Variant]] = defaultdict(list)
        self.regex: dict[int, tuple[re.Pattern, dict[str, int]]] = {}
        for variant in variants:
            self.regex[variant.rank] = self._compile(variant)
            for shape in {_shape(variant.render(date)[0]) for date in _one_year()}:
                self.by_shape[shape].append(variant)

    @staticmethod
    def _compile(variant: Variant) -> tuple[re.Pattern, dict[str, int]]:
        case = str.lower if variant.lower else (lambda text: text)
        month_of: dict[str, int] = {}
        parts, previous_ends_in_digit = [], False
        for kind, value in variant.tokens:
            if kind == "chars":
                parts.append(re.escape(case(value)))
                previous_ends_in_digit = False
                continue
            letter, count = value
            if letter == "y" or (letter in "MLd" and count <= 2):
                group = {"y": "year", "M": "month", "L": "month", "d": "day"}[letter]
                parts.append(rf"(?P<{group}>\d+)")
                names = {"0"}
            elif letter in "ML":
                names = {case(variant._field(letter, count, dt.date(2001, m, 1))): m
                         for m in range(1, 13)}
                month_of.update(names)
                parts.append("(?P<month_name>" + "|".join(
                    re.escape(n) for n in sorted(names, key=len, reverse=True)) + ")")
            else:  # weekday: any of the 7 names; the render-back check makes it the true one
                names = {case(variant._field(letter, count, dt.date(2001, 1, k)))
                         for k in range(1, 8)}
                parts.append("(?:" + "|".join(
                    re.escape(n) for n in sorted(names, key=len, reverse=True)) + ")")
            # Two digit runs with nothing between them could be split more than one way.
            if previous_ends_in_digit and any(n[0].isdigit() for n in names):
                raise ValueError(f"{variant.key}: adjacent digit fields in {variant.pattern!r}")
            previous_ends_in_digit = any(n[-1].isdigit() for n in names)
        return re.compile("".join(parts)), month_of

    def writers(self, text: str) -> list[tuple[int, dt.date]]:
        """Every (variant rank, date) whose rendering is exactly ``text``."""
        found = []
        for variant in self.by_shape.get(_shape(text), ()):
            regex, month_of = self.regex[variant.rank]
            match = regex.fullmatch(text)
            if match is None:
                continue
            groups = match.groupdict()
            year = int(groups["year"])
            if len(groups["year"]) == 2:
                year += 1900 if year >= 50 else 2000  # yy: 50-99 -> 19xx, 00-49 -> 20xx
            month = (month_of[groups["month_name"]] if groups.get("month_name")
                     else int(groups["month"]))
            try:
                date = dt.date(year, month, int(groups["day"]))
            except ValueError:
                continue
            if FIRST_DATE <= date <= LAST_DATE and variant.render(date)[0] == text:
                found.append((variant.rank, date))
        return found


def allowed(variant: Variant, date: dt.date, text: str, index: Index,
            variants: list[Variant]) -> bool:
    """May ``variant`` write ``date`` as ``text``? No if an earlier variant reads ``text`` as
    another date, or (for a held-out variant) if a training variant can write ``text`` at all."""
    for rank, other_date in index.writers(text):
        if rank < variant.rank and other_date != date:
            return False
        if rank == variant.rank and other_date != date:
            return False  # the format itself is ambiguous (never happens with CLDR patterns)
        if variant.held_out and not variants[rank].held_out:
            return False
    return True


def drop_seen_held_out(variants: list[Variant], probe_dates: list[dt.date]) -> list[Variant]:
    """Drop held-out variants that are not new: those writing the same string as an earlier
    variant (training, or held-out and kept) for at least half of the probe dates."""
    kept: list[Variant] = []
    written: list[set[str]] = [set() for _ in probe_dates]  # by kept variants, per probe date
    for variant in variants:
        texts = [variant.render(d)[0] for d in probe_dates]
        if variant.held_out:
            same = sum(text in seen for text, seen in zip(texts, written))
            if same >= SEEN_FORMAT_FRACTION * len(probe_dates):
                continue
        kept.append(variant)
        for text, seen in zip(texts, written):
            seen.add(text)
    for rank, variant in enumerate(kept):
        variant.rank = rank
    return kept


def check_against_babel(variant: Variant, date: dt.date, text: str) -> None:
    """Raise unless ``text`` is exactly what Babel writes for ``date`` in this variant."""
    from babel.dates import format_date, format_skeleton

    how, name = variant.babel_format
    if how == "std":
        expected = format_date(date, name, locale=variant.locale)
    else:
        expected = format_skeleton(name, date, locale=variant.locale)
    if variant.lower:
        expected = expected.lower()
    if text != expected:
        raise AssertionError(f"{variant.key} {date}: rendered {text!r}, Babel writes {expected!r}")


def select_variants(rng: np.random.Generator) -> list[Variant]:
    """The ranked variants in use: all training ones, and the held-out ones that are new."""
    first, n_days = FIRST_DATE.toordinal(), (LAST_DATE - FIRST_DATE).days + 1
    probe_dates = [dt.date.fromordinal(first + int(k)) for k in rng.integers(0, n_days, 200)]
    return drop_seen_held_out(build_variants(), probe_dates)


def format_table(seed: int = SEED) -> str:
    """Markdown table of every variant in use, with its CLDR pattern and an example."""
    example = dt.date(2024, 3, 5)
    lines = ["| locale | format | CLDR pattern | 2024-03-05 written | split |",
             "|---|---|---|---|---|"]
    for v in select_variants(np.random.default_rng(seed)):
        pattern = v.pattern.replace("\u202f", "\\u202f").replace("|", "\\|")
        text = v.render(example)[0].replace("\u202f", " ")
        lines.append(f"| {v.locale} | {v.kind} | `{pattern}` | {text} | "
                     f"{'test_unseen' if v.held_out else 'train/valid/test'} |")
    return "\n".join(lines)


def generate(seed: int = SEED, sizes: dict[str, int] | None = None) -> dict[str, list[tuple]]:
    """Return {split: rows}, each row the 10 columns of ``COLUMNS`` (spans as ints)."""
    sizes = dict(SPLIT_SIZES if sizes is None else sizes)
    rng = np.random.default_rng(seed)
    variants = select_variants(rng)
    first, n_days = FIRST_DATE.toordinal(), (LAST_DATE - FIRST_DATE).days + 1
    index = Index(variants)
    seen = [v for v in variants if not v.held_out]
    held_out = [v for v in variants if v.held_out]

    used_sources: set[str] = set()
    splits: dict[str, list[tuple]] = {}
    for split in ("train", "valid", "test", "test_unseen"):
        pool = held_out if split == "test_unseen" else seen
        # Each variant equally often (up to one), in a random order.
        slots = np.resize(np.arange(len(pool)), sizes[split])
        rng.shuffle(slots)
        rows = []
        for slot in slots:
            variant = pool[int(slot)]
            for _attempt in range(10_000):
                date = dt.date.fromordinal(first + int(rng.integers(0, n_days)))
                text, spans = variant.render(date)
                if text not in used_sources and allowed(variant, date, text, index, variants):
                    break
            else:
                raise RuntimeError(f"{variant.key}: no allowed unused date found")
            check_against_babel(variant, date, text)
            if "\t" in text or "\n" in text or text != text.strip():
                raise ValueError(f"{variant.key}: unusable source {text!r}")
            used_sources.add(text)
            rows.append((text, date.isoformat(), variant.locale, variant.kind,
                         *spans["year"], *spans["month"], *spans["day"]))
        splits[split] = rows
    return splits


def write(splits: dict[str, list[tuple]], out_dir: Path) -> list[Path]:
    """One UTF-8 TSV per split (header line, LF line ends) and CLDR's licence; the paths."""
    import babel

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for split, rows in splits.items():
        path = out_dir / f"{split}.tsv"
        lines = ["\t".join(COLUMNS)] + ["\t".join(map(str, row)) for row in rows]
        path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
        paths.append(path)
    # The month and weekday names and the patterns come from CLDR (Unicode License v3),
    # which Babel ships beside its locale data.
    licence = Path(babel.__file__).parent / "locale-data" / "LICENSE.unicode"
    (out_dir / "LICENSE-CLDR").write_bytes(licence.read_bytes().replace(b"\r\n", b"\n"))
    paths.append(out_dir / "LICENSE-CLDR")
    return paths


def main(out_dir: Path | None = None) -> list[Path]:
    out_dir = Path(__file__).resolve().parent / "dates" if out_dir is None else Path(out_dir)
    return write(generate(), out_dir)


if __name__ == "__main__":
    for written in main():
        print(written)

"""(source, target) pairs stored as a two-column, tab-separated UTF-8 file.

One pair a line: ``source<TAB>target``. No header, no quoting. A line that does not have
exactly two non-empty columns is an error that names the file and line, so a malformed
data file never turns into a silently wrong data set.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

__all__ = ["load_pairs", "save_pairs"]


def load_pairs(path: str | Path) -> list[tuple[str, str]]:
    """Read ``path`` and return its pairs as a list of ``(source, target)`` strings.

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` naming the file and
    line for an empty file, bad UTF-8, a line without exactly two columns, or an empty field.
    Blank lines are errors too (they usually mean a broken file), except one final newline.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such pairs file: {path}")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise ValueError(f"{path} line {line}: not valid UTF-8 ({err.reason})") from None
    if text.startswith("\ufeff"):
        text = text[1:]  # tolerate a byte-order mark written by some editors
    if text.strip() == "":
        raise ValueError(f"{path} is empty: expected one 'source<TAB>target' pair per line")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    pairs = []
    for number, line in enumerate(lines, start=1):
        line = line.rstrip("\r")
        if line == "":
            raise ValueError(f"{path} line {number}: empty line (expected 'source<TAB>target')")
        columns = line.split("\t")
        if len(columns) != 2:
            raise ValueError(
                f"{path} line {number}: expected 2 tab-separated columns, got {len(columns)}: {line[:60]!r}"
            )
        source, target = columns
        if source == "" or target == "":
            which = "source" if source == "" else "target"
            raise ValueError(f"{path} line {number}: the {which} is empty")
        pairs.append((source, target))
    return pairs


def save_pairs(pairs: Iterable[tuple[str, str]], path: str | Path) -> Path:
    """Write pairs as ``source<TAB>target`` lines (UTF-8); returns the path."""
    path = Path(path)
    lines = []
    for i, pair in enumerate(pairs):
        if len(pair) != 2:
            raise ValueError(f"pair {i} has {len(pair)} items, expected (source, target)")
        for field in pair:
            if not isinstance(field, str) or field == "":
                raise ValueError(f"pair {i}: fields must be non-empty strings, got {pair!r}")
            if "\t" in field or "\n" in field:
                raise ValueError(f"pair {i}: fields may not contain tabs or newlines: {pair!r}")
        lines.append(f"{pair[0]}\t{pair[1]}\n")
    if not lines:
        raise ValueError("no pairs to save")
    path.write_text("".join(lines), encoding="utf-8")
    return path

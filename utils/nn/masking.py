"""Masks, scaled dot-product attention and two tiny self-attention models, in PyTorch.

The torch twins of :mod:`utils.scratch.masking` (chapter 05), with the same conventions:
**True in a mask means "may attend"**, and a mask has one axis per score axis.

* :func:`padding_mask`, :func:`causal_mask`: the two masks, as bool tensors;
* :func:`scaled_dot_product_attention` ``(query, key, value, mask=None, causal=False) ->
  (output, weights)``: equal to ``torch.nn.functional.scaled_dot_product_attention`` (which
  does not return the weights), built on :func:`utils.nn.attention.masked_softmax`;
* :class:`CharSelfAttentionModel`: embeddings + positions, self-attention blocks, an output
  layer over the characters. ``causal=True`` makes it a next-character model that can only read
  the past; ``causal=False`` lets every position read the whole string (a masked-language model);
* :func:`train_next_char_model`, :func:`sample_strings`: the causal-mask experiment;
* :func:`train_masked_char_model`, :func:`masked_letter_accuracy`, :func:`mlm_batch`: the
  masked-language-model experiment, with :func:`utils.scratch.masking.mlm_mask`'s 80-10-10.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..scratch.masking import IGNORE_LABEL, mlm_mask
from ..training import fit
from ..vocab import Vocab
from .attention import masked_softmax

__all__ = [
    "MASK_TOKEN",
    "CharSelfAttentionModel",
    "SelfAttentionBlock",
    "causal_mask",
    "generation_loss",
    "masked_letter_accuracy",
    "mlm_batch",
    "next_char_loss",
    "padding_mask",
    "sample_strings",
    "scaled_dot_product_attention",
    "train_masked_char_model",
    "train_next_char_model",
]

MASK_TOKEN = "[MASK]"


# --------------------------------------------------------------------------- masks
def padding_mask(lengths: torch.Tensor, max_len: int | None = None) -> torch.Tensor:
    """``(batch, max_len)`` bool tensor, True at the first ``lengths[b]`` positions of row ``b``."""
    if not isinstance(lengths, torch.Tensor):
        lengths = torch.as_tensor(lengths)
    if lengths.dim() != 1 or lengths.numel() == 0 or lengths.is_floating_point() or lengths.dtype == torch.bool:
        raise ValueError("lengths must be a non-empty 1-D integer tensor (batch,), "
                         f"got {lengths.dtype} {tuple(lengths.shape)}")
    if (lengths < 0).any():
        raise ValueError(f"lengths must be >= 0, got {lengths.tolist()}")
    longest = int(lengths.max())
    max_len = longest if max_len is None else max_len
    if isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < longest:
        raise ValueError(f"max_len must be an int >= the longest length {longest}, got {max_len!r}")
    positions = torch.arange(max_len, device=lengths.device)  # (max_len,)
    return positions[None, :] < lengths[:, None]  # (batch, max_len)


def causal_mask(n_queries: int, n_keys: int | None = None, device=None) -> torch.Tensor:
    """``(n_queries, n_keys)`` bool tensor, True where key ``j <= i``: the past and the present."""
    n_keys = n_queries if n_keys is None else n_keys
    for name, n in (("n_queries", n_queries), ("n_keys", n_keys)):
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"{name} must be a positive int, got {n!r}")
    return torch.ones(n_queries, n_keys, dtype=torch.bool, device=device).tril()


# --------------------------------------------------------------------------- attention
def scaled_dot_product_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                                 mask: torch.Tensor | None = None, causal: bool = False):
    """``softmax(q k^T / sqrt(d_k)) v`` with an optional mask; returns ``(output, weights)``.

    query ``(..., n_queries, d_k)``, key ``(..., n_keys, d_k)``, value ``(..., n_keys, d_v)``
    (the same leading axes). mask: bool tensor with one axis per score axis
    ``(..., n_queries, n_keys)``, each of size 1 or the scores' size, True = may attend (a
    padding mask for ``(batch, n_queries, n_keys)`` scores is ``(batch, 1, n_keys)``).
    causal=True: query ``i`` sees keys ``j <= i`` only (ANDed with ``mask``).
    Returns output ``(..., n_queries, d_v)`` and weights ``(..., n_queries, n_keys)``; a query
    with nothing to attend to gets zero weights and a zero output, not NaN. Equal to
    ``torch.nn.functional.scaled_dot_product_attention(query, key, value, attn_mask=mask,
    is_causal=causal)``, which returns the output only.
    """
    for name, x in (("query", query), ("key", key), ("value", value)):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
        if not x.is_floating_point() or x.dim() < 2:
            raise ValueError(f"{name} must be a floating-point tensor with at least 2 axes, "
                             f"got {x.dtype} {tuple(x.shape)}")
    if not (query.shape[:-2] == key.shape[:-2] == value.shape[:-2]):
        raise ValueError(f"query {tuple(query.shape)}, key {tuple(key.shape)} and value {tuple(value.shape)} "
                         "must share their leading axes (..., n, d)")
    if query.shape[-1] != key.shape[-1]:
        raise ValueError(f"query and key need the same last size d_k, got {tuple(query.shape)} and {tuple(key.shape)}")
    if key.shape[-2] != value.shape[-2]:
        raise ValueError("key and value need one row per key position, "
                         f"got {tuple(key.shape)} and {tuple(value.shape)}")
    if not isinstance(causal, bool):
        raise TypeError(f"causal must be True or False, got {causal!r}")
    n_queries, n_keys = query.shape[-2], key.shape[-2]
    scores = query @ key.transpose(-1, -2) / math.sqrt(query.shape[-1])  # (..., n_queries, n_keys)
    if causal:
        future = causal_mask(n_queries, n_keys, device=query.device)  # (n_queries, n_keys)
        future = future.reshape((1,) * (scores.dim() - 2) + future.shape)  # one axis per score axis
        if mask is None:
            mask = future
        elif isinstance(mask, torch.Tensor) and mask.dtype == torch.bool and mask.dim() == scores.dim():
            mask = mask & future
        # otherwise masked_softmax below names what is wrong with the mask
    weights = masked_softmax(scores, mask)  # (..., n_queries, n_keys), checks the mask
    return weights @ value, weights  # (..., n_queries, d_v)


class SelfAttentionBlock(nn.Module):
    """One single-head self-attention block: x + W_o attn(W_q x, W_k x, W_v x), then x + FFN(x).

    forward(x (batch, seq_len, d_model), key_mask (batch, seq_len) bool or None) ->
    (y (batch, seq_len, d_model), weights (batch, seq_len, seq_len)). Queries, keys and values
    come from the *same* sequence (self-attention); ``causal`` hides the future.
    """

    def __init__(self, d_model: int, causal: bool):
        super().__init__()
        self.causal = bool(causal)
        self.query = nn.Linear(d_model, d_model)
        self.key = nn.Linear(d_model, d_model)
        self.value = nn.Linear(d_model, d_model)
        self.out = nn.Linear(d_model, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.ffn = nn.Sequential(nn.Linear(d_model, 2 * d_model), nn.ReLU(), nn.Linear(2 * d_model, d_model))
        self.norm2 = nn.LayerNorm(d_model)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor | None = None):
        h = self.norm1(x)  # pre-norm: (batch, seq_len, d_model)
        mask = None if key_mask is None else key_mask[:, None, :]  # (batch, 1, seq_len): pads are never keys
        context, weights = scaled_dot_product_attention(self.query(h), self.key(h), self.value(h), mask, self.causal)
        x = x + self.out(context)  # (batch, seq_len, d_model)
        return x + self.ffn(self.norm2(x)), weights


class CharSelfAttentionModel(nn.Module):
    """A tiny self-attention model over characters: logits for every position.

    vocab: a :class:`utils.Vocab` (character level); max_len: the longest input; causal: True
    for a next-character model (position t reads positions <= t only), False for a model that
    reads the whole string (masked language modelling, or the "cheating" next-character model).
    forward(ids (batch, seq_len) long) -> logits (batch, seq_len, len(vocab)); pad positions are
    never attended to. ``last_weights`` keeps each block's attention weights of the last call.
    """

    def __init__(self, vocab: Vocab, max_len: int, *, causal: bool, d_model: int = 32, layers: int = 1):
        super().__init__()
        self.vocab, self.max_len, self.causal = vocab, int(max_len), bool(causal)
        self.embedding = nn.Embedding(len(vocab), d_model, padding_idx=vocab.pad_id)
        self.position = nn.Embedding(self.max_len, d_model)
        self.blocks = nn.ModuleList([SelfAttentionBlock(d_model, causal) for _ in range(layers)])
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, len(vocab))
        self.last_weights: list[torch.Tensor] = []

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if ids.dim() != 2 or ids.dtype != torch.long:
            raise ValueError(f"ids must be a (batch, seq_len) long tensor, got {ids.dtype} {tuple(ids.shape)}")
        if ids.shape[1] > self.max_len:
            raise ValueError(f"sequences of {ids.shape[1]} tokens are longer than max_len={self.max_len}")
        key_mask = ids != self.vocab.pad_id  # (batch, seq_len)
        positions = torch.arange(ids.shape[1], device=ids.device)  # (seq_len,)
        x = self.embedding(ids) + self.position(positions)[None]  # (batch, seq_len, d_model)
        self.last_weights = []
        for block in self.blocks:
            x, weights = block(x, key_mask)
            self.last_weights.append(weights)
        return self.head(self.norm(x))  # (batch, seq_len, vocab)


def _batches(n: int, batch_size: int, seed: int):
    def batches(epoch: int) -> list[np.ndarray]:
        order = np.random.default_rng([seed, epoch]).permutation(n)
        return [order[i:i + batch_size] for i in range(0, n, batch_size)]

    return batches


def _check_texts(texts, name: str) -> list[str]:
    if isinstance(texts, str) or not isinstance(texts, Sequence) or len(texts) == 0:
        raise ValueError(f"{name} must be a non-empty list of strings")
    for text in texts:
        if not isinstance(text, str) or not text:
            raise ValueError(f"{name} must hold non-empty strings, got {text!r}")
    return list(texts)


# --------------------------------------------------------------------------- next-character model
def _lm_ids(vocab: Vocab, texts: Sequence[str]) -> torch.Tensor:
    """``<s> text </s>`` padded: (n, max_len + 2) long."""
    ids, _ = vocab.pad_batch([vocab.encode(t, bos=True, eos=True) for t in texts])
    return ids


def next_char_loss(model: CharSelfAttentionModel, ids: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of predicting ``ids[:, 1:]`` from ``ids[:, :-1]`` (pads ignored)."""
    logits = model(ids[:, :-1])  # (batch, seq_len - 1, vocab)
    targets = ids[:, 1:]  # (batch, seq_len - 1): the next character at every position
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=model.vocab.pad_id)


def train_next_char_model(texts: Sequence[str], *, causal: bool, epochs: int = 6, batch_size: int = 32,
                          lr: float = 3e-3, d_model: int = 32, layers: int = 1, seed: int = 0,
                          progress: bool = True, verbose: bool = True) -> CharSelfAttentionModel:
    """Train a :class:`CharSelfAttentionModel` to predict each next character of ``texts``.

    Each text is read as ``<s> c_1 .. c_n`` and must predict ``c_1 .. c_n </s>``. With
    ``causal=False`` position t may read position t + 1, whose input *is* t's target.
    Returns the model in eval mode with ``model.history`` (loss per epoch).
    """
    texts = _check_texts(texts, "texts")
    torch.manual_seed(seed)
    vocab = Vocab.build(texts, level="char")
    ids = _lm_ids(vocab, texts)  # (n, max_len + 2)
    model = CharSelfAttentionModel(vocab, ids.shape[1] - 1, causal=causal, d_model=d_model, layers=layers)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    batches = _batches(len(texts), batch_size, seed)
    model.history = fit(model, optimizer, lambda m, rows: next_char_loss(m, ids[rows]),
                        lambda epoch: batches(epoch), epochs=epochs,
                        desc=f"{'causal' if causal else 'no mask'}", progress=progress, verbose=verbose)
    return model


@torch.no_grad()
def generation_loss(model: CharSelfAttentionModel, texts: Sequence[str]) -> float:
    """Mean next-character loss on ``texts`` when every prediction sees only the past.

    Position t's prediction is computed from the prefix ``<s> c_1 .. c_t`` alone (one forward
    pass per prefix length), as in generation, where the future does not exist yet. For a
    causal model this equals the teacher-forced :func:`next_char_loss`; for a model that
    learned to read the future it is much higher.
    """
    texts = _check_texts(texts, "texts")
    model.eval()
    ids = _lm_ids(model.vocab, texts)  # (n, max_len + 2)
    total, count = 0.0, 0
    for t in range(ids.shape[1] - 1):
        logits = model(ids[:, :t + 1])[:, -1]  # (n, vocab): the prediction at position t from <s> .. c_t
        targets = ids[:, t + 1]  # (n,)
        real = targets != model.vocab.pad_id
        if real.any():
            total += F.cross_entropy(logits[real], targets[real], reduction="sum").item()
            count += int(real.sum())
    return total / count


@torch.no_grad()
def sample_strings(model: CharSelfAttentionModel, n: int, *, seed: int = 0, temperature: float = 1.0) -> list[str]:
    """Generate ``n`` strings one character at a time, each step reading only what was generated.

    Starts from ``<s>``; at each step samples the next character from the model's distribution
    at the last position (divided by ``temperature``), stops at ``</s>`` or ``max_len``.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    model.eval()
    vocab = model.vocab
    generator = torch.Generator().manual_seed(seed)
    ids = torch.full((n, 1), vocab.bos_id, dtype=torch.long)  # (n, 1)
    done = torch.zeros(n, dtype=torch.bool)
    for _ in range(model.max_len - 1):
        logits = model(ids)[:, -1] / temperature  # (n, vocab): the prediction at the newest position
        logits[:, [vocab.pad_id, vocab.bos_id]] = float("-inf")  # never generate these
        token = torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator)  # (n, 1)
        token[done] = vocab.eos_id
        ids = torch.cat([ids, token], dim=1)
        done |= token[:, 0] == vocab.eos_id
        if done.all():
            break
    return [vocab.decode(row[1:]) for row in ids]


# --------------------------------------------------------------------------- masked language model
def _mlm_vocab(words: Sequence[str]) -> Vocab:
    letters = sorted(set("".join(words)))
    return Vocab(letters + [MASK_TOKEN], level="char")


def mlm_batch(vocab: Vocab, words: Sequence[str], rng: np.random.Generator, *, mask_prob: float = 0.8,
              random_prob: float = 0.1, select_prob: float = 0.15) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad ``words`` and corrupt them with :func:`utils.scratch.masking.mlm_mask`.

    Returns inputs (batch, max_len) long and labels (batch, max_len) long (-100 where not chosen).
    A batch where no letter was chosen gets one chosen letter (so the loss is defined).
    """
    ids, _ = vocab.pad_batch([vocab.encode(w) for w in words])  # (batch, max_len)
    specials = [vocab.stoi[t] for t in (*Vocab.SPECIALS, MASK_TOKEN)]
    inputs, labels = mlm_mask(ids.numpy(), mask_id=vocab.stoi[MASK_TOKEN], vocab_size=len(vocab),
                              special_ids=specials, rng=rng, select_prob=select_prob,
                              mask_prob=mask_prob, random_prob=random_prob)
    if (labels == IGNORE_LABEL).all():
        labels[0, 0] = ids[0, 0]
    return torch.from_numpy(inputs), torch.from_numpy(labels)


def train_masked_char_model(words: Sequence[str], *, mask_prob: float = 0.8, random_prob: float = 0.1,
                            select_prob: float = 0.15, epochs: int = 6, batch_size: int = 32, lr: float = 3e-3,
                            d_model: int = 32, layers: int = 2, seed: int = 0, progress: bool = True,
                            verbose: bool = True) -> CharSelfAttentionModel:
    """Train a bidirectional :class:`CharSelfAttentionModel` as a masked language model on ``words``.

    Every batch is corrupted afresh with the 80-10-10 procedure (or the given proportions); the
    loss is the cross-entropy at the chosen letters only. Returns the model in eval mode.
    """
    words = _check_texts(words, "words")
    torch.manual_seed(seed)
    vocab = _mlm_vocab(words)
    model = CharSelfAttentionModel(vocab, max(map(len, words)), causal=False, d_model=d_model, layers=layers)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    batches = _batches(len(words), batch_size, seed)

    def loss_fn(m, rows):
        inputs, labels = mlm_batch(vocab, [words[i] for i in rows], rng, mask_prob=mask_prob,
                                   random_prob=random_prob, select_prob=select_prob)
        logits = m(inputs)  # (batch, max_len, vocab)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=IGNORE_LABEL)

    model.history = fit(model, optimizer, loss_fn, lambda epoch: batches(epoch), epochs=epochs,
                        desc=f"MLM {mask_prob:.0%} mask", progress=progress, verbose=verbose)
    return model


@torch.no_grad()
def masked_letter_accuracy(model: CharSelfAttentionModel, words: Sequence[str], *, seed: int = 0,
                           corruption: str = "mask") -> float:
    """Fraction of words whose one hidden letter the model gets right.

    One position per word is drawn at random (seeded); ``corruption="mask"`` replaces it with
    ``[MASK]``, ``"random"`` with a different random letter, ``"none"`` leaves it. The model
    must predict the original letter there.
    """
    words = _check_texts(words, "words")
    if corruption not in ("mask", "random", "none"):
        raise ValueError(f"corruption must be 'mask', 'random' or 'none', got {corruption!r}")
    vocab = model.vocab
    rng = np.random.default_rng(seed)
    ids, _ = vocab.pad_batch([vocab.encode(w) for w in words])  # (n, max_len)
    positions = torch.tensor([rng.integers(len(w)) for w in words])  # (n,)
    rows = torch.arange(len(words))
    original = ids[rows, positions]  # (n,)
    inputs = ids.clone()
    if corruption == "mask":
        inputs[rows, positions] = vocab.stoi[MASK_TOKEN]
    elif corruption == "random":
        letters = torch.tensor([i for i, t in enumerate(vocab.tokens) if t not in (*Vocab.SPECIALS, MASK_TOKEN)])
        shift = torch.from_numpy(rng.integers(1, len(letters), size=len(words)))
        index = (torch.searchsorted(letters, original) + shift) % len(letters)  # never the original letter
        inputs[rows, positions] = letters[index]
    predicted = model(inputs)[rows, positions].argmax(-1)  # (n,)
    return float((predicted == original).float().mean())

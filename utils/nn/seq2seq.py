"""Sequence-to-sequence models in PyTorch and the one-call training API.

Usage::

    model = train_seq2seq(pairs, attention="dot")      # pairs: list of (source, target) strings
    model.translate("3 March 2021")                     # a str, e.g. "2021-03-03"
    model.translate_batch(sources)                      # list[str], decoded in batches
    tokens, weights = model.attention("3 March 2021")   # weights: (len(tokens), len(source))
    exact_match(model, test_pairs)                      # utils.exact_match -> float

The parts, named as in the chapters:

* :class:`Encoder`: embedding, then a GRU or LSTM over the source. It returns every encoder
  state ``h_1..h_T`` (``memory``, ``(batch, src_len, hidden)``) and the last state ``h_T``.
  Padded sources are *packed*, so the last state is the state after each source's last real
  token, not after its padding.
* :class:`PlainDecoder`: its only link to the source is its initial state, the encoder's last
  state (the context vector ``c = h_T``). A fixed-size vector must carry the whole source:
  the bottleneck of chapter 02.
* :class:`AttentionDecoder`: the same RNN, then an attention layer (``attention="dot"``: scores
  ``s_t . h_j``, masked softmax, weighted sum ``c_t = sum_j a_tj h_j``), then the output layer
  reads ``[c_t ; s_t]``. The attention layer sits *between the decoder RNN and the output
  projection* (the textbook / Luong view), so a fresh context vector is computed for every
  output step.
* :class:`Seq2Seq`: encoder + decoder + the two vocabularies. Training uses teacher forcing
  (the decoder reads the true previous token); inference is greedy decoding (the decoder reads
  its own previous prediction) up to a maximum output length.

A decoder is any module with ``forward(tgt_in, state, memory, src_mask) -> (logits, state,
weights)`` that works for one step or many (greedy decoding calls it one step at a time).
``Seq2Seq`` builds a :class:`PlainDecoder` for ``attention=None`` and an
:class:`AttentionDecoder` around the layer ``utils.attention.ATTENTIONS[attention]``
otherwise; later chapters add attention variants there, and decoders of another shape
(e.g. one that feeds the context into the RNN step) behind the same ``attention=`` name.
"""
from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .attention import make_attention
from ..metrics import exact_match, token_accuracy
from ..repro import pick_device, seed_everything
from ..training import fit
from ..vocab import Vocab

__all__ = [
    "Encoder",
    "PlainDecoder",
    "AttentionDecoder",
    "Seq2Seq",
    "Batch",
    "train_seq2seq",
    "make_batches",
    "masked_cross_entropy",
    "teacher_forcing_accuracy",
    "accuracy_by_length",
    "length_sweep",
]

_CELLS = {"gru": nn.GRU, "lstm": nn.LSTM}


def _rnn(cell: str, input_size: int, hidden_size: int) -> nn.RNNBase:
    if cell not in _CELLS:
        raise ValueError(f"cell must be 'gru' or 'lstm', got {cell!r}")
    return _CELLS[cell](input_size, hidden_size, batch_first=True)


def _check_positive_int(name: str, value) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


# ---------------------------------------------------------------------------------- modules
class Encoder(nn.Module):
    """Embedding, then a one-layer LSTM (default) or GRU over the source.

    forward(src_ids (batch, src_len) long, src_lengths (batch,) long) returns
    ``memory`` (batch, src_len, hidden), every encoder state h_j (zeros at padding), and
    ``state``: the last state h_T, (1, batch, hidden), or the pair (h_T, c_T) for an LSTM.
    """

    def __init__(self, vocab_size: int, embed_size: int, hidden_size: int, cell: str = "lstm", pad_id: int = 0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size, padding_idx=pad_id)
        self.rnn = _rnn(cell, embed_size, hidden_size)

    def forward(self, src_ids: torch.Tensor, src_lengths: torch.Tensor):
        embedded = self.embedding(src_ids)  # (batch, src_len, embed)
        # Packing makes the RNN stop at each sequence's true end, so `state` is h_T, not the
        # state after reading pads.
        packed = pack_padded_sequence(embedded, src_lengths.cpu(), batch_first=True, enforce_sorted=False)
        packed_out, state = self.rnn(packed)
        memory, _ = pad_packed_sequence(packed_out, batch_first=True, total_length=src_ids.shape[1])
        return memory, state  # (batch, src_len, hidden), (1, batch, hidden) [or (h, c)]


class PlainDecoder(nn.Module):
    """Decoder without attention: embedding, GRU/LSTM, linear output layer.

    Its only link to the source is its initial state (the encoder's last state, the context
    vector). forward(tgt_in (batch, tgt_len), state, memory, src_mask) returns logits
    (batch, tgt_len, vocab), the new state and ``None`` (no attention weights); ``memory``
    and ``src_mask`` are accepted for a common interface and ignored.
    """

    has_attention = False

    def __init__(self, vocab_size: int, embed_size: int, hidden_size: int, cell: str = "lstm", pad_id: int = 0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size, padding_idx=pad_id)
        self.rnn = _rnn(cell, embed_size, hidden_size)
        self.out = nn.Linear(hidden_size, vocab_size)

    def forward(self, tgt_in, state, memory=None, src_mask=None):
        s, state = self.rnn(self.embedding(tgt_in), state)  # s: (batch, tgt_len, hidden)
        return self.out(s), state, None  # (batch, tgt_len, vocab)


class AttentionDecoder(nn.Module):
    """Decoder with attention between its RNN and its output layer.

    For every step t: s_t = RNN(y_{t-1}, s_{t-1}); weights a_t = masked_softmax(score(s_t, h_.));
    context c_t = sum_j a_tj h_j; logits = W [c_t ; s_t] + b. Because the attention comes
    *after* the RNN, teacher-forced training runs the RNN over all steps at once and attends
    in one batched product. forward(...) returns logits (batch, tgt_len, vocab), the new
    state and the weights (batch, tgt_len, src_len).
    """

    has_attention = True

    def __init__(self, vocab_size: int, embed_size: int, hidden_size: int, cell: str = "lstm", pad_id: int = 0,
                 attention: str = "dot"):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size, padding_idx=pad_id)
        self.rnn = _rnn(cell, embed_size, hidden_size)
        self.attention = make_attention(attention, hidden_size)
        self.out = nn.Linear(2 * hidden_size, vocab_size)

    def forward(self, tgt_in, state, memory, src_mask):
        s, state = self.rnn(self.embedding(tgt_in), state)  # (batch, tgt_len, hidden)
        context, weights = self.attention(s, memory, src_mask)  # (batch, tgt_len, hidden), (batch, tgt_len, src_len)
        logits = self.out(torch.cat([context, s], dim=-1))  # (batch, tgt_len, vocab)
        return logits, state, weights


class Batch:
    """A padded batch. src_ids (batch, src_len), src_lengths (batch,), tgt_in (batch, tgt_len)
    = <s> y_1 .. y_n (then pads), tgt_out (batch, tgt_len) = y_1 .. y_n </s> (then pads)."""

    def __init__(self, src_ids, src_lengths, tgt_in, tgt_out):
        self.src_ids, self.src_lengths, self.tgt_in, self.tgt_out = src_ids, src_lengths, tgt_in, tgt_out

    def to(self, device) -> "Batch":
        return Batch(self.src_ids.to(device), self.src_lengths.to(device), self.tgt_in.to(device), self.tgt_out.to(device))

    def __len__(self) -> int:
        return self.src_ids.shape[0]


def masked_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, pad_id: int = Vocab.pad_id) -> torch.Tensor:
    """Mean of -log p(target token) over the positions whose target is not ``pad_id``.

    logits: (batch, tgt_len, vocab); targets: (batch, tgt_len) long. Pads add nothing to the
    loss and do not count in the mean, so padding a batch more does not change it.
    """
    if logits.dim() != 3 or targets.shape != logits.shape[:2]:
        raise ValueError(f"logits (batch, tgt_len, vocab) {tuple(logits.shape)} and targets (batch, tgt_len) "
                         f"{tuple(targets.shape)} do not match")
    if (targets != pad_id).sum() == 0:
        raise ValueError("every target is padding: nothing to learn from")
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=pad_id)


class Seq2Seq(nn.Module):
    """Encoder-decoder model with its vocabularies; translate strings to strings.

    attention: None (plain decoder) or a name from ``utils.attention.ATTENTIONS`` ("dot").
    cell: "lstm" (default, as in :func:`train_seq2seq`) or "gru".
    Sources are strings; an empty or whitespace-only source is an error, unknown symbols are
    read as ``<unk>``, and a source with *no* known symbol gets a ``UserWarning`` naming them.
    reverse_source: feed the source tokens to the encoder in reverse order (Sutskever et al.'s
    trick); weights returned by :meth:`attention` are still in the original source order.
    max_output_len: default cap on the number of tokens greedy decoding produces.
    """

    def __init__(self, src_vocab: Vocab, tgt_vocab: Vocab, *, attention: str | None = None, cell: str = "lstm",
                 embed_size: int = 32, hidden_size: int = 128, reverse_source: bool = False,
                 max_output_len: int = 50):
        super().__init__()
        for name in ("embed_size", "hidden_size", "max_output_len"):
            _check_positive_int(name, locals()[name])
        self.src_vocab, self.tgt_vocab = src_vocab, tgt_vocab
        self.attention_name = attention
        self.cell = cell
        self.hidden_size = hidden_size
        self.reverse_source = bool(reverse_source)
        self.max_output_len = int(max_output_len)
        self.encoder = Encoder(len(src_vocab), embed_size, hidden_size, cell, src_vocab.pad_id)
        if attention is None:
            self.decoder = PlainDecoder(len(tgt_vocab), embed_size, hidden_size, cell, tgt_vocab.pad_id)
        else:
            self.decoder = AttentionDecoder(len(tgt_vocab), embed_size, hidden_size, cell, tgt_vocab.pad_id,
                                            attention=attention)
        self.history = None  # set by train_seq2seq

    def __repr__(self) -> str:
        n = sum(p.numel() for p in self.parameters())
        return (f"Seq2Seq(attention={self.attention_name!r}, cell={self.cell!r}, hidden_size={self.hidden_size}, "
                f"reverse_source={self.reverse_source}, {n:,} parameters)")

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    # ------------------------------------------------------------------ encoding text
    def _source_ids(self, source: str) -> list[int]:
        if not isinstance(source, str):
            raise TypeError(f"a source must be a string, got {type(source).__name__}: {source!r}")
        if not source.strip():  # the same rule as train_seq2seq's pairs
            raise ValueError(f"cannot translate an empty or whitespace-only source ({source!r}): there is nothing to read")
        tokens = self.src_vocab.tokenize(source)
        if not tokens:
            raise ValueError(f"cannot translate an empty source ({source!r}): there is nothing to read")
        unknown = [t for t in tokens if t not in self.src_vocab.stoi]
        if len(unknown) == len(tokens):
            # Every token becomes <unk>: the output cannot depend on what was written. Say so
            # rather than return a confident-looking translation of nothing.
            warnings.warn(
                f"none of the source's symbols were seen in training ({sorted(set(unknown))!r} in {source!r}): "
                "the model reads only <unk> tokens, so its output says nothing about this source",
                UserWarning, stacklevel=3,
            )
        ids = self.src_vocab.encode(source)  # unknown symbols -> <unk>
        return ids[::-1] if self.reverse_source else ids

    def encode_sources(self, sources: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Padded source ids (batch, src_len) and lengths (batch,), reversed if reverse_source."""
        if isinstance(sources, str):
            raise TypeError("expected a list of sources, got one string (use translate for one)")
        if len(sources) == 0:
            raise ValueError("no sources given")
        return self.src_vocab.pad_batch([self._source_ids(s) for s in sources])

    def make_batch(self, pairs: Sequence[tuple[str, str]]) -> Batch:
        """Encode (source, target) pairs into one padded :class:`Batch` (on the CPU)."""
        src_ids, src_lengths = self.encode_sources([s for s, _ in pairs])
        full, _ = self.tgt_vocab.pad_batch([self.tgt_vocab.encode(t, bos=True, eos=True) for _, t in pairs])
        return Batch(src_ids, src_lengths, full[:, :-1], full[:, 1:])

    # ------------------------------------------------------------------ the network
    def encode(self, src_ids: torch.Tensor, src_lengths: torch.Tensor):
        """memory (batch, src_len, hidden), last encoder state, src_mask (batch, src_len) bool."""
        memory, state = self.encoder(src_ids, src_lengths)
        src_mask = src_ids != self.src_vocab.pad_id  # True at real tokens: attention may look there
        return memory, state, src_mask

    def forward(self, src_ids, src_lengths, tgt_in):
        """Teacher forcing: logits (batch, tgt_len, vocab) and attention weights (or None)."""
        memory, state, src_mask = self.encode(src_ids, src_lengths)
        logits, _, weights = self.decoder(tgt_in, state, memory, src_mask)
        return logits, weights

    def loss(self, batch: Batch) -> torch.Tensor:
        """Teacher-forced cross-entropy per target token, pads ignored."""
        batch = batch.to(self.device)
        logits, _ = self(batch.src_ids, batch.src_lengths, batch.tgt_in)
        return masked_cross_entropy(logits, batch.tgt_out, self.tgt_vocab.pad_id)

    @torch.no_grad()
    def greedy_decode(self, src_ids, src_lengths, max_len: int | None = None):
        """Greedy decoding: at each step feed back the most probable token.

        Returns out_ids (batch, steps) long (each row ends with </s> unless it hit max_len;
        positions after </s> are pad) and weights (batch, steps, src_len) or None.
        """
        max_len = self.max_output_len if max_len is None else max_len
        _check_positive_int("max_len", max_len)
        src_ids, src_lengths = src_ids.to(self.device), src_lengths.to(self.device)
        memory, state, src_mask = self.encode(src_ids, src_lengths)
        batch = src_ids.shape[0]
        token = torch.full((batch, 1), self.tgt_vocab.bos_id, dtype=torch.long, device=self.device)
        finished = torch.zeros(batch, dtype=torch.bool, device=self.device)
        outputs, weights = [], []
        for _ in range(max_len):
            logits, state, w = self.decoder(token, state, memory, src_mask)  # logits (batch, 1, vocab)
            token = logits.argmax(-1)  # (batch, 1)
            token = token.masked_fill(finished[:, None], self.tgt_vocab.pad_id)
            outputs.append(token)
            if w is not None:
                weights.append(w)  # (batch, 1, src_len)
            finished |= token[:, 0] == self.tgt_vocab.eos_id
            if finished.all():
                break
        out_ids = torch.cat(outputs, dim=1)  # (batch, steps)
        return out_ids, (torch.cat(weights, dim=1) if weights else None)

    # ------------------------------------------------------------------ strings in, strings out
    def translate(self, source: str, max_len: int | None = None) -> str:
        """Greedy translation of one source string."""
        return self.translate_batch([source], max_len=max_len)[0]

    def translate_batch(self, sources: Sequence[str], max_len: int | None = None, batch_size: int = 512) -> list[str]:
        """Greedy translations of many sources, decoded in batches of similar length."""
        was_training = self.training
        self.eval()
        if isinstance(sources, str):
            raise TypeError("translate_batch expects a list of sources, got one string (use translate)")
        encoded = [self._source_ids(s) for s in sources]
        if len(encoded) == 0:
            return []
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))  # less padding per batch
        results: list[str] = [""] * len(encoded)
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            src_ids, src_lengths = self.src_vocab.pad_batch([encoded[i] for i in chunk])
            out_ids, _ = self.greedy_decode(src_ids, src_lengths, max_len)
            for row, i in enumerate(chunk):
                results[i] = self.tgt_vocab.decode(out_ids[row].tolist())
        self.train(was_training)
        return results

    def attention(self, source: str, max_len: int | None = None) -> tuple[list[str], np.ndarray]:
        """Greedy translation of ``source`` and the attention weights used for it.

        Returns (output tokens, weights): the output tokens without the end token, and a NumPy
        array of shape (len(output tokens), len(source tokens)); row i is where output token
        i looked, columns in the original source order (even with reverse_source).
        """
        if isinstance(source, (list, tuple)):
            raise TypeError("attention expects one source string (use attention_batch for a list)")
        return self.attention_batch([source], max_len)[0]

    @torch.no_grad()
    def attention_batch(self, sources: Sequence[str], max_len: int | None = None,
                        batch_size: int = 512) -> list[tuple[list[str], np.ndarray]]:
        """:meth:`attention` for many sources, decoded in batches of similar length.

        Returns one (output tokens, weights (out_len, src_len)) pair per source, in order.
        """
        if self.attention_name is None:
            raise ValueError("this model has no attention (it was built with attention=None): "
                             "its only link to the source is the encoder's last state")
        if isinstance(sources, str):
            raise TypeError("attention_batch expects a list of sources, got one string (use attention)")
        encoded = [self._source_ids(s) for s in sources]
        was_training = self.training
        self.eval()
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))  # less padding per batch
        results: list = [None] * len(encoded)
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            src_ids, src_lengths = self.src_vocab.pad_batch([encoded[i] for i in chunk])
            out_ids, weights = self.greedy_decode(src_ids, src_lengths, max_len)  # (b, steps), (b, steps, src_len)
            for row, i in enumerate(chunk):
                ids = out_ids[row].tolist()
                n = ids.index(self.tgt_vocab.eos_id) if self.tgt_vocab.eos_id in ids else len(ids)
                tokens = [self.tgt_vocab.tokens[t] for t in ids[:n]]
                w = weights[row, :n, : len(encoded[i])].cpu().numpy()  # (out_len, src_len)
                if self.reverse_source:
                    w = w[:, ::-1].copy()  # back to the source's own order
                results[i] = (tokens, w)
        self.train(was_training)
        return results

    @torch.no_grad()
    def teacher_forced_tokens(self, pairs: Sequence[tuple[str, str]], batch_size: int = 512) -> list[list[str]]:
        """What the model predicts at each step when fed the *true* previous tokens.

        One token list per pair: the most probable token at each of the target's positions
        (a special token shows as its name, e.g. ``</s>`` for an early end), then, when the
        prediction at the end position is not ``</s>``, that prediction too. So the list
        equals the target's tokens exactly when every teacher-forced prediction is right.
        Compare ``utils.token_accuracy(model.teacher_forced_tokens(pairs), targets)`` with
        the free-running ``utils.token_accuracy(model.translate_batch(sources), targets)``.
        """
        pairs = _check_pairs(pairs)
        was_training = self.training
        self.eval()
        results = []
        for start in range(0, len(pairs), batch_size):
            chunk = pairs[start:start + batch_size]
            batch = self.make_batch(chunk).to(self.device)
            logits, _ = self(batch.src_ids, batch.src_lengths, batch.tgt_in)
            predicted = logits.argmax(-1).tolist()  # (batch, tgt_len)
            for row, (_, target) in enumerate(chunk):
                n = len(self.tgt_vocab.tokenize(target))
                tokens = [self.tgt_vocab.tokens[i] for i in predicted[row][:n]]
                if predicted[row][n] != self.tgt_vocab.eos_id:
                    tokens.append(self.tgt_vocab.tokens[predicted[row][n]])
                results.append(tokens)
        self.train(was_training)
        return results


# ---------------------------------------------------------------------------------- training
def _check_pairs(pairs, name: str = "pairs") -> list[tuple[str, str]]:
    if isinstance(pairs, (str, bytes)) or not hasattr(pairs, "__len__"):
        raise TypeError(f"{name} must be a list of (source, target) string pairs")
    if len(pairs) == 0:
        raise ValueError(f"{name} is empty: need at least one (source, target) pair")
    out = []
    for i, pair in enumerate(pairs):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValueError(f"{name}[{i}] is not a (source, target) pair: {pair!r}")
        source, target = pair
        if not isinstance(source, str) or not isinstance(target, str):
            raise TypeError(f"{name}[{i}] must hold two strings, got {pair!r}")
        if not source.strip() or not target.strip():
            raise ValueError(f"{name}[{i}] has an empty source or target: {pair!r}")
        out.append((source, target))
    return out


def make_batches(model: Seq2Seq, pairs: Sequence[tuple[str, str]], batch_size: int, seed: int = 0):
    """``batches(epoch) -> list[Batch]`` for :func:`utils.fit`: all pairs, reshuffled each epoch.

    Pairs are encoded and padded once. Each epoch shuffles them, sorts windows of 20 batches
    by source length (so a batch holds similar lengths and little padding) and shuffles the
    batch order.
    """
    _check_positive_int("batch_size", batch_size)
    full = model.make_batch(pairs)
    n = len(full)
    tgt_lengths = (full.tgt_out != model.tgt_vocab.pad_id).sum(1)

    def batches(epoch: int) -> list[Batch]:
        g = torch.Generator().manual_seed(seed * 100_003 + epoch)
        perm = torch.randperm(n, generator=g)
        window = batch_size * 20
        out = []
        for w in range(0, n, window):
            idx = perm[w:w + window]
            idx = idx[torch.argsort(full.src_lengths[idx], stable=True)]
            for b in range(0, len(idx), batch_size):
                i = idx[b:b + batch_size]
                s_len, t_len = int(full.src_lengths[i].max()), int(tgt_lengths[i].max())
                out.append(Batch(full.src_ids[i, :s_len], full.src_lengths[i], full.tgt_in[i, :t_len],
                                 full.tgt_out[i, :t_len]))
        order = torch.randperm(len(out), generator=g).tolist()
        return [out[k] for k in order]

    return batches


def train_seq2seq(
    pairs: Sequence[tuple[str, str]],
    attention: str | None = None,
    *,
    cell: str = "lstm",
    hidden_size: int = 64,
    embed_size: int = 32,
    epochs: int = 5,
    batch_size: int = 64,
    lr: float = 5e-3,
    decay_epochs: int = 2,
    final_lr_fraction: float = 0.1,
    seed: int = 0,
    valid_pairs: Sequence[tuple[str, str]] | None = None,
    target: float | None = None,
    reverse_source: bool = False,
    level: str = "char",
    max_output_len: int | None = None,
    clip: float | None = 1.0,
    device: str | torch.device | None = None,
    progress: bool = True,
    verbose: bool = True,
    desc: str | None = None,
) -> Seq2Seq:
    """Build a :class:`Seq2Seq` model for ``pairs`` and train it with teacher forcing.

    pairs: list of (source, target) strings; tokens are characters (``level="word"``: words).
    attention: None (the plain encoder-decoder) or "dot" (dot-product attention).
    cell: "gru" or "lstm". hidden_size/embed_size: sizes of the RNN state and embeddings.
    epochs, batch_size, lr (Adam), clip (gradient-norm clipping): the optimisation. The
    learning rate stays at ``lr``, then decays linearly to ``lr * final_lr_fraction`` over the
    last ``decay_epochs`` epochs (0: constant).
    valid_pairs: held-out pairs; their exact match (greedy decoding) is measured after each
    epoch and ``target`` stops training once it is reached.
    reverse_source: read sources backwards. max_output_len: decoding cap (default: the longest
    training target + 10). device: default CUDA when available, else CPU.
    Returns the trained model (in eval mode); ``model.history`` is the :class:`utils.History`.
    """
    pairs = _check_pairs(pairs)
    if valid_pairs is not None:
        valid_pairs = _check_pairs(valid_pairs, "valid_pairs")
    if target is not None and valid_pairs is None:
        raise ValueError("target needs valid_pairs to measure the exact match on")
    for name in ("epochs", "batch_size"):
        _check_positive_int(name, locals()[name])
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr}")
    if not isinstance(decay_epochs, int) or decay_epochs < 0:
        raise ValueError(f"decay_epochs must be an int >= 0, got {decay_epochs!r}")
    if not 0 < final_lr_fraction <= 1:
        raise ValueError(f"final_lr_fraction must be in (0, 1], got {final_lr_fraction}")
    seed_everything(seed)
    src_vocab = Vocab.build([s for s, _ in pairs], level=level)
    tgt_vocab = Vocab.build([t for _, t in pairs], level=level)
    if max_output_len is None:
        max_output_len = max(len(tgt_vocab.tokenize(t)) for _, t in pairs) + 10
    model = Seq2Seq(src_vocab, tgt_vocab, attention=attention, cell=cell, embed_size=embed_size,
                    hidden_size=hidden_size, reverse_source=reverse_source, max_output_len=max_output_len)
    model.to(pick_device(device) if not isinstance(device, torch.device) else device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    evaluate = (lambda m: exact_match(m, valid_pairs)) if valid_pairs is not None else None
    epoch_batches = make_batches(model, pairs, batch_size, seed)

    def batches(epoch: int) -> list[Batch]:
        # Learning-rate schedule, set at the start of each epoch: constant, then a linear
        # decay to lr * final_lr_fraction over the last ``decay_epochs`` epochs (large steps
        # to learn fast, small ones to settle into a good minimum).
        decay_start = max(epochs - decay_epochs, 0)
        progress_in_decay = (epoch - decay_start + 1) / max(epochs - decay_start, 1) if epoch >= decay_start else 0.0
        for group in optimizer.param_groups:
            group["lr"] = lr * (1 - (1 - final_lr_fraction) * min(progress_in_decay, 1.0))
        return epoch_batches(epoch)

    model.history = fit(
        model, optimizer, lambda m, batch: m.loss(batch), batches,
        epochs=epochs, clip=clip, evaluate=evaluate, target=target, metric_name="valid exact",
        desc=desc or f"seq2seq ({attention or 'no attention'})", progress_bar=progress, verbose=verbose,
    )
    return model


# ---------------------------------------------------------------------------------- evaluation
def teacher_forcing_accuracy(model: Seq2Seq, pairs: Sequence[tuple[str, str]]) -> dict[str, float]:
    """Token accuracy of one model fed the true previous tokens vs its own predictions.

    Returns ``{"teacher_forced": ..., "free_running": ...}``: the share of target tokens
    predicted right (position by position) under teacher forcing, and when greedy decoding
    feeds back the model's own outputs. The gap is what exposure bias costs: the model was
    trained only on true prefixes and never learnt to recover from its own mistakes.

    (Exact match is the *same* in both modes under greedy decoding: a sequence is right
    free-running exactly when every step is right given the true prefix, because then the
    fed-back prefix *is* the true prefix. So the gap shows per token, not per sequence.)
    """
    pairs = _check_pairs(pairs)
    targets = [model.tgt_vocab.tokenize(t) for _, t in pairs]
    free = [model.tgt_vocab.tokenize(p) for p in model.translate_batch([s for s, _ in pairs])]
    return {
        "teacher_forced": token_accuracy(model.teacher_forced_tokens(pairs), targets),
        "free_running": token_accuracy(free, targets),
    }


def accuracy_by_length(model, pairs: Sequence[tuple[str, str]]) -> dict[int, float]:
    """Exact match per source length: ``{length in tokens: exact match}``, lengths sorted.

    model: anything ``utils.exact_match`` accepts (has ``translate_batch`` or ``translate``);
    the length is counted in the model's source tokens (characters by default). Each length
    is decoded in one batched call.
    """
    pairs = _check_pairs(pairs)
    tokenize = model.src_vocab.tokenize if hasattr(model, "src_vocab") else list
    groups: dict[int, list] = {}
    for pair in pairs:
        groups.setdefault(len(tokenize(pair[0])), []).append(pair)
    return {length: exact_match(model, groups[length]) for length in sorted(groups)}


def length_sweep(
    task: str = "reverse",
    lengths: Sequence[int] = tuple(range(5, 61, 5)),
    *,
    attention: str | None = None,
    hidden_size: int = 128,
    n_train: int = 4000,
    n_test: int = 100,
    seed: int = 0,
    distinct: bool = False,
    **train_kwargs,
) -> tuple[Seq2Seq, dict[int, float]]:
    """Train one model on mixed lengths, then measure exact match at each length.

    task: a synthetic task of ``utils.make_task`` ("copy", "reverse", "sort", "addition").
    Trains ``train_seq2seq`` on ``n_train`` pairs whose source lengths are spread uniformly
    over ``min(lengths)..max(lengths)``, then tests on ``n_test`` fresh pairs at each length
    in ``lengths`` (other seeds than the training data, sources seen in training left out, so
    fewer than ``n_test`` when a length has few unseen strings). ``train_kwargs`` go to
    ``train_seq2seq`` (epochs, batch_size, lr, cell, reverse_source, ...); ``distinct`` goes
    to ``make_task`` (sources without repeated symbols).
    Returns ``(model, {length: exact match})``, e.g. for ``utils.plot``-ing accuracy
    against length; chapter 02 runs it without attention, chapter 03 with.
    """
    from ..datasets import make_task  # the data module imports nothing from here

    lengths = sorted(int(n) for n in lengths)
    if not lengths or lengths[0] < 1:
        raise ValueError(f"lengths must be positive ints, got {lengths}")
    train = make_task(task, n_train, min_len=lengths[0], max_len=lengths[-1], seed=seed, distinct=distinct)
    seen = {s for s, _ in train}
    test = []
    for length in lengths:
        for draws in (2 * n_test, 20 * n_test):  # short lengths have few unseen strings: draw more
            fresh = [p for p in make_task(task, draws, min_len=length, max_len=length,
                                          seed=10_000 + 97 * seed + length, distinct=distinct)
                     if p[0] not in seen]
            if len(fresh) >= n_test:
                break
        if not fresh:
            raise ValueError(f"every {task} source of length {length} occurs in the training data: no test pairs left")
        test.extend(fresh[:n_test])
    train_kwargs.setdefault("desc", f"{task} {lengths[0]}..{lengths[-1]}, hidden {hidden_size}, attention={attention}")
    model = train_seq2seq(train, attention, hidden_size=hidden_size, seed=seed, **train_kwargs)
    return model, accuracy_by_length(model, test)

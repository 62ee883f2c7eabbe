"""The seq2seq model: encoder + bridge + decoder + the two vocabularies, strings in, strings out.

Usage::

    model = utils.train_seq2seq(pairs, attention="dot")     # pairs: list of (source, target) strings
    model.translate("3 March 2021")                          # greedy: "2021-03-03"
    model.translate("3 March 2021", beam_size=5)             # beam search
    model.translate_batch(sources)                           # list[str], decoded in batches
    tokens, weights = model.attention("3 March 2021")        # weights: (len(tokens), len(source))
    [trace] = model.trace(["3 March 2021"])                  # every intermediate quantity, as NumPy
    model.log_prob(pairs)                                    # log p(target | source) for each pair

One decoding loop serves them all: :meth:`Seq2Seq._in_batches` sorts the inputs by length,
cuts them into batches, pads, runs, and puts the results back in the caller's order, and
:meth:`Seq2Seq.search` is the one search (greedy is beam search with one hypothesis).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..validate import finite_float, positive_int
from ..vocab import Vocab
from .config import ModelConfig, split_settings
from .decoder import DecoderState, make_decoder
from .encoder import Bridge, Encoder, _top_h

__all__ = ["Seq2Seq", "Batch", "Hypothesis", "Trace", "masked_cross_entropy", "check_pairs"]


class Batch:
    """A padded batch. src_ids (batch, src_len), src_lengths (batch,), tgt_in (batch, tgt_len)
    = <s> y_1 .. y_n (then pads), tgt_out (batch, tgt_len) = y_1 .. y_n </s> (then pads)."""

    def __init__(self, src_ids, src_lengths, tgt_in, tgt_out):
        self.src_ids, self.src_lengths, self.tgt_in, self.tgt_out = src_ids, src_lengths, tgt_in, tgt_out

    def to(self, device) -> "Batch":
        return Batch(self.src_ids.to(device), self.src_lengths.to(device), self.tgt_in.to(device),
                     self.tgt_out.to(device))

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


def check_pairs(pairs, name: str = "pairs") -> list[tuple[str, str]]:
    """``pairs`` as a list of (source, target) strings, or a clear error naming the bad pair."""
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


@dataclass
class Hypothesis:
    """One output of :meth:`Seq2Seq.search`.

    tokens: the output tokens, without <s> and </s>. log_prob: log p(tokens + </s> | source)
    under the model (a sum over steps). score: what the search ranks by, log_prob / L**alpha with
    L the number of steps (tokens + 1 for </s>) and alpha the length penalty (0: raw log_prob).
    finished: False when the hypothesis hit max_len without </s>. weights: (L, src_len)
    attention weights (rows per step, </s> included) or None.
    """

    tokens: list[str]
    log_prob: float
    score: float
    finished: bool
    weights: np.ndarray | None = None


@dataclass
class Trace:
    """What the model computed for one source (see :meth:`Seq2Seq.trace`); NumPy arrays.

    src_tokens (S), out_tokens (T: the outputs, </s> included when produced), encoder_states
    (S, D_enc): h_j in the source's own order, decoder_states (T, hidden): the top layer's s_t,
    contexts (T, D_enc) and weights (T, S) (None without attention), attentional (T, hidden):
    Luong's h~_t (None without that layer), logits (T, vocab).
    """

    src_tokens: list[str]
    out_tokens: list[str]
    encoder_states: np.ndarray
    decoder_states: np.ndarray
    contexts: np.ndarray | None
    weights: np.ndarray | None
    attentional: np.ndarray | None
    logits: np.ndarray


def _restore_mode(method):
    """Run ``method`` in eval mode under no_grad and put the model back the way it was, even on error."""

    def wrapper(self, *args, **kwargs):
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                return method(self, *args, **kwargs)
        finally:
            self.train(was_training)

    wrapper.__name__, wrapper.__doc__, wrapper.__wrapped__ = method.__name__, method.__doc__, method
    return wrapper


class Seq2Seq(nn.Module):
    """Encoder-decoder model with its vocabularies; translate strings to strings.

    Seq2Seq(src_vocab, tgt_vocab, config=None, *, max_output_len=50, **settings): ``config`` is
    a :class:`utils.ModelConfig`; ``settings`` are its fields by name (``attention="dot"``,
    ``hidden_size=16``, ...), changing the config (or the defaults). Sources are strings; an
    empty or whitespace-only source is an error, unknown symbols are read as ``<unk>``, and a
    source with *no* known symbol gets a ``UserWarning`` naming them. With ``reverse_source``
    the encoder reads the source backwards; weights and traces are still in the source's order.
    """

    def __init__(self, src_vocab: Vocab, tgt_vocab: Vocab, config: ModelConfig | None = None, *,
                 max_output_len: int = 50, **settings):
        super().__init__()
        for name, vocab in (("src_vocab", src_vocab), ("tgt_vocab", tgt_vocab)):
            if not isinstance(vocab, Vocab):
                raise TypeError(f"{name} must be a utils.Vocab (e.g. utils.Vocab.build(texts)), got "
                                f"{type(vocab).__name__}: {vocab!r}")
        if config is None:
            config = ModelConfig()
        elif not isinstance(config, ModelConfig):
            raise TypeError(f"config must be a utils.ModelConfig, got {type(config).__name__}")
        model_settings, train_settings = split_settings(settings)
        if train_settings:
            raise TypeError(f"{sorted(train_settings)} are training settings: pass them to utils.train_seq2seq")
        self.config = config = config.replace(**model_settings) if model_settings else config
        self.src_vocab, self.tgt_vocab = src_vocab, tgt_vocab
        self.max_output_len = positive_int("max_output_len", max_output_len)
        self.encoder = Encoder(len(src_vocab), config.embed_size, config.enc_size, cell=config.cell,
                               layers=config.layers, residual=config.residual, dropout=config.dropout,
                               bidirectional=config.bidirectional, pad_id=src_vocab.pad_id)
        self.bridge = Bridge(config.resolved_bridge, config.cell, config.enc_size, config.hidden_size, config.layers,
                             2 if config.bidirectional else 1)
        self.decoder = make_decoder(config, len(tgt_vocab), config.memory_size, tgt_vocab.pad_id)
        self.history = None  # set by train_seq2seq

    def __repr__(self) -> str:
        c = self.config
        attention = None if c.attention is None else c.attention
        return (f"Seq2Seq(cell={c.cell!r}, hidden_size={c.hidden_size}, layers={c.layers}, "
                f"bidirectional={c.bidirectional}, attention={attention}, {self.num_parameters():,} parameters)")

    def num_parameters(self) -> int:
        """The number of trained numbers (weights and biases)."""
        return sum(p.numel() for p in self.parameters())

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def encoder_layers(self) -> list[nn.Module]:
        """The encoder's stacked RNN layers, bottom first (e.g. for per-layer gradient norms)."""
        return list(self.encoder.rnn.layers)

    @property
    def decoder_layers(self) -> list[nn.Module]:
        """The decoder's stacked RNN layers, bottom first."""
        return list(self.decoder.rnn.layers)

    # ------------------------------------------------------------------ text -> ids
    def _source_ids(self, source: str) -> list[int]:
        if not isinstance(source, str):
            raise TypeError(f"a source must be a string, got {type(source).__name__}: {source!r}")
        if not source.strip():  # the same rule as train_seq2seq's pairs
            raise ValueError(f"cannot translate an empty or whitespace-only source ({source!r}): "
                             "there is nothing to read")
        tokens = self.src_vocab.tokenize(source)
        unknown = [t for t in tokens if t not in self.src_vocab.stoi]
        if len(unknown) == len(tokens):
            # Every token becomes <unk>: the output cannot depend on what was written. Say so
            # rather than return a confident-looking translation of nothing.
            warnings.warn(
                f"none of the source's symbols were seen in training ({sorted(set(unknown))!r} in {source!r}): "
                "the model reads only <unk> tokens, so its output says nothing about this source",
                UserWarning, stacklevel=4,
            )
        ids = self.src_vocab.encode(source)  # unknown symbols -> <unk>
        return ids[::-1] if self.config.reverse_source else ids

    def encode_sources(self, sources: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Padded source ids (batch, src_len) and lengths (batch,), reversed if reverse_source."""
        sources = _check_sources(sources, "encode_sources")
        if len(sources) == 0:
            raise ValueError("no sources given")
        return self.src_vocab.pad_batch([self._source_ids(s) for s in sources])

    def make_batch(self, pairs: Sequence[tuple[str, str]]) -> Batch:
        """Encode (source, target) pairs into one padded :class:`Batch` (on the CPU)."""
        pairs = check_pairs(pairs)
        src_ids, src_lengths = self.encode_sources([s for s, _ in pairs])
        full, _ = self.tgt_vocab.pad_batch([self.tgt_vocab.encode(t, bos=True, eos=True) for _, t in pairs])
        return Batch(src_ids, src_lengths, full[:, :-1], full[:, 1:])

    # ------------------------------------------------------------------ the network
    def encode(self, src_ids: torch.Tensor, src_lengths: torch.Tensor) -> tuple[torch.Tensor, DecoderState]:
        """Run the encoder and the bridge: (memory (batch, src_len, D_enc), the decoder's first state)."""
        memory, final = self.encoder(src_ids, src_lengths)  # (batch, src_len, D_enc), final states
        src_mask = src_ids != self.src_vocab.pad_id  # (batch, src_len): True at real tokens
        attends = self.config.attention is not None
        rnn = self.bridge(final)  # (layers, batch, hidden) (a pair for an LSTM)
        peek = _top_h(rnn)[-1] if self.config.peeky else None  # (batch, hidden): c = h_T for a peeky decoder
        state = DecoderState(rnn=rnn, memory=memory if attends else None,
                             src_mask=src_mask if attends else None, src_lengths=src_lengths, peek=peek)
        return memory, state

    def forward(self, src_ids, src_lengths, tgt_in):
        """Teacher forcing: logits (batch, tgt_len, vocab) and attention weights (or None)."""
        _, state = self.encode(src_ids, src_lengths)
        out = self.decoder(tgt_in, state)
        return out.logits, out.weights

    def loss(self, batch: Batch) -> torch.Tensor:
        """Teacher-forced cross-entropy per target token, pads ignored."""
        batch = batch.to(self.device)
        logits, _ = self(batch.src_ids, batch.src_lengths, batch.tgt_in)
        return masked_cross_entropy(logits, batch.tgt_out, self.tgt_vocab.pad_id)

    # ------------------------------------------------------------------ the one batching loop
    def _in_batches(self, items: Sequence, length: Callable, run: Callable, batch_size: int) -> list:
        """``run(chunk)`` over chunks of ``items`` sorted by ``length`` (less padding), results in input order."""
        batch_size = positive_int("batch_size", batch_size)
        order = sorted(range(len(items)), key=lambda i: length(items[i]))
        results: list = [None] * len(items)
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            for i, result in zip(chunk, run([items[i] for i in chunk])):
                results[i] = result
        return results

    def _src_tensors(self, encoded: list[list[int]]):
        src_ids, src_lengths = self.src_vocab.pad_batch(encoded)
        return src_ids.to(self.device), src_lengths.to(self.device)

    def _source_order(self, w: np.ndarray, n: int) -> np.ndarray:
        """Attention columns (..., src_len) cut to n real positions, in the source's own order."""
        w = w[..., :n]
        return w[..., ::-1].copy() if self.config.reverse_source else w

    # ------------------------------------------------------------------ search
    def _search_chunk(self, encoded: list[list[int]], beam_size: int, max_len: int,
                      alpha: float) -> list[list[Hypothesis]]:
        """Beam search for a batch of sources; beam_size 1 is greedy decoding."""
        src_ids, src_lengths = self._src_tensors(encoded)
        B, K, V = len(encoded), beam_size, len(self.tgt_vocab)
        bos, eos, pad = self.tgt_vocab.bos_id, self.tgt_vocab.eos_id, self.tgt_vocab.pad_id
        _, state = self.encode(src_ids, src_lengths)
        state = state.select(torch.arange(B, device=self.device).repeat_interleave(K))  # (B*K rows)
        # Only the first copy of each source is live at the start, so the first step does not
        # fill the beam with K copies of one hypothesis.
        scores = torch.full((B, K), -math.inf, device=self.device)
        scores[:, 0] = 0.0
        tokens = torch.full((B * K, 1), bos, dtype=torch.long, device=self.device)
        history = torch.empty((B * K, 0), dtype=torch.long, device=self.device)  # (B*K, steps)
        weight_history = []  # per step (B*K, src_len), reordered with the beams
        finished = torch.zeros(B * K, dtype=torch.bool, device=self.device)
        for _ in range(max_len):
            out = self.decoder(tokens, state)
            log_probs = F.log_softmax(out.logits[:, -1].float(), dim=-1)  # (B*K, V)
            # A finished hypothesis continues only with pad at no cost: it keeps its score and
            # its place in the beam, competing with the live ones on equal terms.
            frozen = torch.full_like(log_probs, -math.inf)
            frozen[:, pad] = 0.0
            log_probs = torch.where(finished.unsqueeze(1), frozen, log_probs)
            candidates = scores.view(B * K, 1) + log_probs  # (B*K, V)
            top, index = candidates.view(B, K * V).topk(K, dim=1)  # (B, K) each
            beam = index // V  # which hypothesis each new one extends
            token = index % V  # (B, K)
            rows = (torch.arange(B, device=self.device).unsqueeze(1) * K + beam).view(-1)  # (B*K,)
            state = out.state if K == 1 else out.state.select(rows)  # greedy: every row extends itself
            history = torch.cat([history.index_select(0, rows), token.view(-1, 1)], dim=1)
            if out.weights is not None:
                weight_history = [w.index_select(0, rows) for w in weight_history]
                weight_history.append(out.weights[:, -1].index_select(0, rows))  # (B*K, src_len)
            finished = finished.index_select(0, rows) | (token.view(-1) == eos)
            scores = top
            tokens = token.view(-1, 1)
            if finished.all():
                break
        weights = torch.stack(weight_history, dim=1).cpu().numpy() if weight_history else None  # (B*K, steps, S)
        history, scores_np = history.tolist(), scores.view(-1).tolist()
        results = []
        for b in range(B):
            hyps = []
            for k in range(K):
                r = b * K + k
                if scores_np[r] == -math.inf:
                    continue
                ids = history[r]
                steps = ids.index(eos) + 1 if eos in ids else len(ids)
                norm = scores_np[r] / (steps ** alpha) if alpha else scores_np[r]
                w = None if weights is None else self._source_order(weights[r, :steps], len(encoded[b]))
                hyps.append(Hypothesis([self.tgt_vocab.tokens[i] for i in ids[:steps] if i != eos],
                                       scores_np[r], norm, eos in ids, w))
            hyps.sort(key=lambda h: -h.score)
            results.append(hyps)
        return results

    @_restore_mode
    def search(self, sources: Sequence[str], beam_size: int = 5, *, max_len: int | None = None,
               length_penalty: float = 1.0, batch_size: int = 256) -> list[list[Hypothesis]]:
        """Beam search: for each source, its ``beam_size`` best :class:`Hypothesis`, best first.

        Each step extends every live hypothesis by every token and keeps the ``beam_size`` most
        probable of all (sum of log-probabilities); a hypothesis that produced </s> stays in the
        beam with its score. Search stops when every hypothesis in the beam has ended or after
        ``max_len`` steps (default: the model's ``max_output_len``). The final ranking divides
        each log-probability by L**length_penalty (L = its number of steps, </s> included): with
        0, the raw log-probability, which favours short outputs since every step adds a negative
        term. beam_size=1 is greedy decoding.

        Beam search is a heuristic, not an exact search: it usually returns an output at least as
        probable as greedy decoding's, but not always, because the greedy prefix can drop out of
        the beam at one step and every kept hypothesis then fall below it later (seen on about 2% of
        words for one under-trained grapheme-to-phoneme model in chapter 07's runs).
        """
        sources = _check_sources(sources, "search")
        beam_size = positive_int("beam_size", beam_size)
        max_len = self.max_output_len if max_len is None else positive_int("max_len", max_len)
        alpha = finite_float("length_penalty", length_penalty, low=0.0)
        encoded = [self._source_ids(s) for s in sources]
        return self._in_batches(encoded, len, lambda chunk: self._search_chunk(chunk, beam_size, max_len, alpha),
                                max(1, positive_int("batch_size", batch_size) // beam_size))

    def translate(self, source: str, beam_size: int = 1, *, max_len: int | None = None,
                  length_penalty: float = 1.0) -> str:
        """The model's output for one source string: greedy (beam_size=1) or beam search."""
        if not isinstance(source, str):
            raise TypeError(f"translate expects one source string (use translate_batch for a list), got "
                            f"{type(source).__name__}")
        return self.translate_batch([source], beam_size, max_len=max_len, length_penalty=length_penalty)[0]

    def translate_batch(self, sources: Sequence[str], beam_size: int = 1, *, max_len: int | None = None,
                        length_penalty: float = 1.0, batch_size: int = 512) -> list[str]:
        """:meth:`translate` for many sources, decoded in batches of similar length."""
        sources = _check_sources(sources, "translate_batch")
        best = self.search(sources, beam_size, max_len=max_len, length_penalty=length_penalty, batch_size=batch_size)
        return [self.tgt_vocab.join(hyps[0].tokens) for hyps in best]

    def attention(self, source: str, max_len: int | None = None) -> tuple[list[str], np.ndarray]:
        """Greedy translation of ``source`` and the attention weights used for it.

        Returns (output tokens, weights): the output tokens without the end token, and a NumPy
        array of shape (len(output tokens), len(source tokens)); row i is where output token
        i looked, columns in the original source order (even with reverse_source).
        """
        if not isinstance(source, str):
            raise TypeError("attention expects one source string (use attention_batch for a list)")
        return self.attention_batch([source], max_len)[0]

    def attention_batch(self, sources: Sequence[str], max_len: int | None = None,
                        batch_size: int = 512) -> list[tuple[list[str], np.ndarray]]:
        """:meth:`attention` for many sources: (output tokens, weights (out_len, src_len)) each."""
        if self.config.attention is None:
            raise ValueError("this model has no attention (it was built with attention=None): "
                             "its only link to the source is the encoder's last state")
        sources = _check_sources(sources, "attention_batch")
        best = self.search(sources, 1, max_len=max_len, batch_size=batch_size)
        return [(h.tokens, h.weights[:len(h.tokens)]) for h, *_ in best]

    # ------------------------------------------------------------------ teacher forcing
    def _forced_chunk(self, chunk: list[tuple[str, str]]):
        batch = self.make_batch(chunk).to(self.device)
        _, state = self.encode(batch.src_ids, batch.src_lengths)
        return batch, self.decoder(batch.tgt_in, state)

    @_restore_mode
    def log_prob(self, pairs: Sequence[tuple[str, str]], batch_size: int = 512) -> np.ndarray:
        """log p(target | source) for each pair: the sum over the target's tokens and </s> of
        log p(y_t | y_<t, x) under teacher forcing. (pairs,) float64."""
        pairs = check_pairs(pairs)

        def run(chunk):
            batch, out = self._forced_chunk(chunk)
            logp = F.log_softmax(out.logits.double(), dim=-1).gather(2, batch.tgt_out.unsqueeze(2)).squeeze(2)
            logp = logp.masked_fill(batch.tgt_out == self.tgt_vocab.pad_id, 0.0)  # (batch, tgt_len)
            return logp.sum(1).tolist()

        return np.array(self._in_batches(pairs, lambda p: len(p[0]), run, batch_size))

    @_restore_mode
    def teacher_forced_tokens(self, pairs: Sequence[tuple[str, str]], batch_size: int = 512) -> list[list[str]]:
        """What the model predicts at each step when fed the *true* previous tokens.

        One token list per pair: the most probable token at each of the target's positions
        (a special token shows as its name, e.g. ``</s>`` for an early end), then, when the
        prediction at the end position is not ``</s>``, that prediction too. So the list
        equals the target's tokens exactly when every teacher-forced prediction is right.
        """
        pairs = check_pairs(pairs)

        def run(chunk):
            batch, out = self._forced_chunk(chunk)
            predicted = out.logits.argmax(-1).tolist()  # (batch, tgt_len)
            results = []
            for row, (_, target) in enumerate(chunk):
                n = len(self.tgt_vocab.tokenize(target))
                tokens = [self.tgt_vocab.tokens[i] for i in predicted[row][:n]]
                if predicted[row][n] != self.tgt_vocab.eos_id:
                    tokens.append(self.tgt_vocab.tokens[predicted[row][n]])
                results.append(tokens)
            return results

        return self._in_batches(pairs, lambda p: len(p[0]), run, batch_size)

    # ------------------------------------------------------------------ a stable view of the internals
    @_restore_mode
    def trace(self, sources: Sequence[str], targets: Sequence[str] | None = None,
              max_len: int | None = None) -> list[Trace]:
        """Every intermediate quantity for each source, as NumPy arrays (see :class:`Trace`).

        With ``targets`` the decoder is teacher-forced on them (T = len(target) + 1 steps, the
        last predicting </s>); without, it decodes greedily (T = the output's length with </s>).
        This is the documented way to look inside a model: chapters use it, not the modules'
        attributes, so a change of layout inside utils cannot silently change what they show.
        """
        sources = _check_sources(sources, "trace")
        if targets is not None:
            targets = _check_sources(targets, "trace targets")
            if len(targets) != len(sources):
                raise ValueError(f"trace got {len(sources)} sources but {len(targets)} targets")
        else:
            targets = [self.tgt_vocab.join(h[0].tokens) for h in self.search(sources, 1, max_len=max_len)]
        pairs = list(zip(sources, targets))

        def run(chunk):
            batch, out = self._forced_chunk(chunk)
            memory, _ = self.encode(batch.src_ids, batch.src_lengths)
            results = []
            for row, (source, target) in enumerate(chunk):
                S = int(batch.src_lengths[row])
                T = len(self.tgt_vocab.tokenize(target)) + 1
                pick = lambda x: None if x is None else x[row, :T].double().cpu().numpy()  # noqa: E731
                enc = memory[row, :S].double().cpu().numpy()  # (S, D_enc) in the encoder's reading order
                if self.config.reverse_source:
                    enc = enc[::-1].copy()
                weights = pick(out.weights)
                results.append(Trace(
                    src_tokens=self.src_vocab.tokenize(source),
                    out_tokens=self.tgt_vocab.tokenize(target) + [self.tgt_vocab.tokens[self.tgt_vocab.eos_id]],
                    encoder_states=enc, decoder_states=pick(out.states), contexts=pick(out.contexts),
                    weights=None if weights is None else self._source_order(weights, S),
                    attentional=pick(out.attentional), logits=pick(out.logits)))
            return results

        return self._in_batches(pairs, lambda p: len(p[0]), run, 512)


def _check_sources(sources, what: str) -> list[str]:
    if isinstance(sources, str):
        raise TypeError(f"{what} expects a list of sources, got one string (wrap it in a list; translate and "
                        "attention take one string)")
    if not hasattr(sources, "__len__"):
        raise TypeError(f"{what} expects a list of sources (strings), got {type(sources).__name__}")
    return list(sources)

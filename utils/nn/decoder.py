"""The decoder side: one state object and three decoders that share one interface.

Every decoder is called as ``decoder(tgt_in, state) -> DecoderOutput`` for one step
(``tgt_in`` (batch, 1)) or many (teacher forcing, ``tgt_in`` (batch, tgt_len)), and returns
the new :class:`DecoderState`. Greedy decoding, beam search, teacher forcing and
``Seq2Seq.trace`` all drive decoders through this one call.

Where attention sits (chapter 04):

* :class:`PlainDecoder`: no attention. s_t = RNN(y_{t-1}, s_{t-1}); logits = W s_t + b. Its
  only link to the source is its initial state (the context vector of chapter 02).
* :class:`LuongDecoder`: attention *after* the RNN. s_t = RNN(y_{t-1}, s_{t-1}) (with input
  feeding: RNN([y_{t-1}; h~_{t-1}], s_{t-1})); query s_t; c_t = sum_j a_tj h_j; with the
  attentional layer h~_t = tanh(W_c [c_t; s_t]) and logits = W_s h~_t, without it
  logits = W [c_t; s_t] + b (chapter 03's model). Without input feeding the RNN runs over all
  teacher-forced steps at once and attention is one batched product.
* :class:`BahdanauDecoder`: attention *before* the RNN. Query s_{t-1}; c_t = sum_j a_tj h_j;
  s_t = RNN([y_{t-1}; c_t], s_{t-1}); logits = W [s_t; c_t] + b. Each step needs the state the
  previous step produced, so the decoder runs one step after another even under teacher forcing.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn

from .attention import AdditiveScore, Attention, LocalWindow, make_score
from .config import AttentionConfig
from .encoder import StackedRNN, _top_h, map_state

__all__ = ["DecoderState", "DecoderOutput", "PlainDecoder", "LuongDecoder", "BahdanauDecoder", "make_decoder"]


@dataclass
class DecoderState:
    """Everything a decoder needs to take its next step, for every row of a batch.

    rnn: the RNN state, (layers, batch, hidden) (a pair (h, c) for an LSTM).
    memory: the encoder states h_j, (batch, src_len, D_enc), or None (plain decoder).
    src_mask: (batch, src_len) bool, True at real source tokens.
    src_lengths: (batch,) long.
    feed: what input feeding passes to the next step, (batch, F), or None.
    step: the index t of the next output position (local-m's p_t = t).
    peek: the context vector c = h_T that a peeky plain decoder reads at every step,
        (batch, hidden), or None.

    :meth:`select` picks rows (to reorder, repeat or drop hypotheses in beam search): every
    per-row field is indexed together, so no part of the state is left behind.
    """

    rnn: torch.Tensor | tuple
    memory: torch.Tensor | None
    src_mask: torch.Tensor | None
    src_lengths: torch.Tensor
    feed: torch.Tensor | None = None
    step: int = 0
    peek: torch.Tensor | None = None

    def select(self, index: torch.Tensor) -> "DecoderState":
        """The state of rows ``index`` (batch', ) long, in that order (repeats allowed)."""
        return DecoderState(
            rnn=map_state(self.rnn, lambda s: s.index_select(1, index)),
            memory=None if self.memory is None else self.memory.index_select(0, index),
            src_mask=None if self.src_mask is None else self.src_mask.index_select(0, index),
            src_lengths=self.src_lengths.index_select(0, index),
            feed=None if self.feed is None else self.feed.index_select(0, index),
            step=self.step,
            peek=None if self.peek is None else self.peek.index_select(0, index),
        )

    @property
    def batch_size(self) -> int:
        return self.src_lengths.shape[0]


@dataclass
class DecoderOutput:
    """logits (batch, T, vocab); state after the last step; and, per step, what the model
    computed on the way: ``states`` s_t of the top layer (batch, T, hidden), ``contexts`` c_t
    (batch, T, D_enc), ``weights`` a_t (batch, T, src_len), ``attentional`` h~_t (batch, T,
    hidden) (None where the decoder has no such quantity)."""

    logits: torch.Tensor
    state: DecoderState
    states: torch.Tensor
    contexts: torch.Tensor | None = None
    weights: torch.Tensor | None = None
    attentional: torch.Tensor | None = None


class PlainDecoder(nn.Module):
    """Embedding, RNN, output layer: the source reaches it only through its initial state.

    peeky=True (the textbook's "peeky" decoder): the context vector c = h_T (the decoder's
    initial top-layer state, ``state.peek``) is also concatenated to the RNN's input and to the
    output layer's input at *every* step: s_t = RNN([y_{t-1}; c], s_{t-1}), logits = W [s_t; c] + b.
    The decoder can then no longer forget c; what is left of the bottleneck is c's size.
    """

    has_attention = False

    def __init__(self, vocab_size: int, embed_size: int, hidden_size: int, *, cell: str = "lstm", layers: int = 1,
                 residual: bool = False, dropout: float = 0.0, pad_id: int = 0, peeky: bool = False):
        super().__init__()
        self.peeky = peeky
        extra = hidden_size if peeky else 0
        self.embedding = nn.Embedding(vocab_size, embed_size, padding_idx=pad_id)
        self.rnn = StackedRNN(cell, embed_size + extra, hidden_size, layers, residual=residual, dropout=dropout)
        self.out = nn.Linear(hidden_size + extra, vocab_size)

    def forward(self, tgt_in: torch.Tensor, state: DecoderState) -> DecoderOutput:
        x = self.embedding(tgt_in)  # (batch, T, embed)
        if self.peeky:
            if state.peek is None:
                raise ValueError("a peeky decoder needs state.peek, the context vector (batch, hidden)")
            peek = state.peek.unsqueeze(1).expand(-1, tgt_in.shape[1], -1)  # (batch, T, hidden): c at every step
            x = torch.cat([x, peek], dim=-1)
        s, rnn_state = self.rnn(x, state.rnn)  # s: (batch, T, hidden)
        new = replace(state, rnn=rnn_state, step=state.step + tgt_in.shape[1])
        logits = self.out(torch.cat([s, peek], dim=-1) if self.peeky else s)  # (batch, T, vocab)
        return DecoderOutput(logits, new, s)


def _attention_layer(config: AttentionConfig, query_size: int, memory_size: int) -> Attention:
    score = make_score(config.score, query_size, memory_size, config.attn_size)
    window = None if config.window is None else LocalWindow(config.window, config.window_size, query_size)
    return Attention(score, window)


class LuongDecoder(nn.Module):
    """Attention after the RNN (Luong et al. 2015; chapter 03's model is the case without the
    attentional layer). See the module docstring for the equations."""

    has_attention = True

    def __init__(self, vocab_size: int, embed_size: int, hidden_size: int, memory_size: int, config: AttentionConfig,
                 *, cell: str = "lstm", layers: int = 1, residual: bool = False, dropout: float = 0.0,
                 pad_id: int = 0):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(vocab_size, embed_size, padding_idx=pad_id)
        if config.attentional_layer:
            self.feed_size = hidden_size  # h~_t
        else:
            self.feed_size = memory_size  # c_t
        rnn_input = embed_size + (self.feed_size if config.input_feeding else 0)
        self.rnn = StackedRNN(cell, rnn_input, hidden_size, layers, residual=residual, dropout=dropout)
        self.attention = _attention_layer(config, hidden_size, memory_size)
        if config.attentional_layer:
            self.W_c = nn.Linear(memory_size + hidden_size, hidden_size, bias=False)  # h~ = tanh(W_c [c; s])
            self.out = nn.Linear(hidden_size, vocab_size)  # W_s h~ + b
        else:
            self.W_c = None
            self.out = nn.Linear(memory_size + hidden_size, vocab_size)  # W [c; s] + b

    def _attend(self, s: torch.Tensor, state: DecoderState, steps: torch.Tensor):
        context, weights = self.attention(s, state.memory, mask=state.src_mask, src_lengths=state.src_lengths,
                                          steps=steps)  # (batch, T, D_enc), (batch, T, src_len)
        joined = torch.cat([context, s], dim=-1)  # (batch, T, D_enc + hidden)
        attentional = torch.tanh(self.W_c(joined)) if self.W_c is not None else None  # (batch, T, hidden)
        logits = self.out(attentional if attentional is not None else joined)  # (batch, T, vocab)
        return logits, context, weights, attentional

    def forward(self, tgt_in: torch.Tensor, state: DecoderState) -> DecoderOutput:
        T = tgt_in.shape[1]
        embedded = self.embedding(tgt_in)  # (batch, T, embed)
        device = tgt_in.device
        if not self.config.input_feeding:
            # The RNN does not depend on attention: run it over all steps, attend once.
            s, rnn_state = self.rnn(embedded, state.rnn)  # (batch, T, hidden)
            steps = torch.arange(state.step, state.step + T, device=device)
            logits, context, weights, attentional = self._attend(s, state, steps)
            new = replace(state, rnn=rnn_state, step=state.step + T)
            return DecoderOutput(logits, new, s, context, weights, attentional)
        # Input feeding: step t reads what step t-1 attended to, so the steps run in order.
        outs = []
        for t in range(T):
            feed = state.feed if state.feed is not None else embedded.new_zeros(tgt_in.shape[0], self.feed_size)
            x = torch.cat([embedded[:, t:t + 1], feed.unsqueeze(1)], dim=-1)  # (batch, 1, embed + F)
            s, rnn_state = self.rnn(x, state.rnn)  # (batch, 1, hidden)
            steps = torch.arange(state.step, state.step + 1, device=device)
            logits, context, weights, attentional = self._attend(s, state, steps)
            fed = (attentional if attentional is not None else context)[:, 0]  # (batch, F)
            state = replace(state, rnn=rnn_state, feed=fed, step=state.step + 1)
            outs.append((logits, s, context, weights, attentional))
        return _stack_steps(outs, state)


class BahdanauDecoder(nn.Module):
    """Attention before the RNN (Bahdanau et al. 2015): query s_{t-1}, context into the RNN step."""

    has_attention = True

    def __init__(self, vocab_size: int, embed_size: int, hidden_size: int, memory_size: int, config: AttentionConfig,
                 *, cell: str = "lstm", layers: int = 1, residual: bool = False, dropout: float = 0.0,
                 pad_id: int = 0):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(vocab_size, embed_size, padding_idx=pad_id)
        self.rnn = StackedRNN(cell, embed_size + memory_size, hidden_size, layers, residual=residual, dropout=dropout)
        self.attention = _attention_layer(config, hidden_size, memory_size)
        self.out = nn.Linear(hidden_size + memory_size, vocab_size)  # W [s_t; c_t] + b

    def forward(self, tgt_in: torch.Tensor, state: DecoderState) -> DecoderOutput:
        embedded = self.embedding(tgt_in)  # (batch, T, embed)
        # The additive score's key projection W_k h_j does not depend on the step: compute it once.
        additive = isinstance(self.attention.score, AdditiveScore)
        projected = self.attention.score.W_k(state.memory) if additive else None  # (batch, src_len, attn)
        outs = []
        for t in range(tgt_in.shape[1]):
            query = _top_h(state.rnn)[-1].unsqueeze(1)  # s_{t-1}: (batch, 1, hidden), the top layer
            context, weights = self.attention(query, state.memory, mask=state.src_mask,
                                              projected_keys=projected)  # (batch, 1, D_enc), (batch, 1, src_len)
            x = torch.cat([embedded[:, t:t + 1], context], dim=-1)  # (batch, 1, embed + D_enc)
            s, rnn_state = self.rnn(x, state.rnn)  # (batch, 1, hidden)
            logits = self.out(torch.cat([s, context], dim=-1))  # (batch, 1, vocab)
            state = replace(state, rnn=rnn_state, step=state.step + 1)
            outs.append((logits, s, context, weights, None))
        return _stack_steps(outs, state)


def _stack_steps(outs, state: DecoderState) -> DecoderOutput:
    logits, s, context, weights, attentional = zip(*outs)
    cat = lambda parts: None if parts[0] is None else torch.cat(parts, dim=1)  # noqa: E731
    return DecoderOutput(cat(logits), state, cat(s), cat(context), cat(weights), cat(attentional))


def make_decoder(config, vocab_size: int, memory_size: int, pad_id: int) -> nn.Module:
    """The decoder a :class:`utils.ModelConfig` describes."""
    common = dict(cell=config.cell, layers=config.layers, residual=config.residual, dropout=config.dropout,
                  pad_id=pad_id)
    attention = config.attention
    if attention is None:
        return PlainDecoder(vocab_size, config.embed_size, config.hidden_size, peeky=config.peeky, **common)
    cls = BahdanauDecoder if attention.placement == "bahdanau" else LuongDecoder
    return cls(vocab_size, config.embed_size, config.hidden_size, memory_size, attention, **common)

"""The encoder side: stacked (optionally residual, bidirectional) RNNs, the encoder, the bridge.

* :class:`StackedRNN`: ``layers`` GRU/LSTM layers, one ``torch.nn`` module each, so that a
  residual connection ``y = x + RNN_l(x)`` can join layer ``l``'s input to its output (from the
  second layer on, where sizes agree) and dropout can sit between layers. Padded batches are
  *packed* (``lengths``), so each sequence's final state is the state after its last real token.
* :class:`Encoder`: embedding, then a StackedRNN over the source. Returns every encoder state
  ``h_j`` (``memory``) and the final states.
* :class:`Bridge`: the documented hand-off from the encoder's final states to the decoder's
  initial state (``copy``, ``linear``, ``sum``, ``backward``, ``zeros``).

States follow ``torch.nn``'s layout: ``(layers * directions, batch, hidden)``, layer-major
(index ``2 l`` is layer l's forward direction, ``2 l + 1`` its backward one), and for an LSTM
the pair ``(h, c)`` of two such tensors.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from ..validate import boolean, finite_float, one_of, positive_int

__all__ = ["StackedRNN", "Encoder", "Bridge", "map_state"]

_CELLS = {"gru": nn.GRU, "lstm": nn.LSTM}


def map_state(state, fn):
    """Apply ``fn`` to an RNN state: a tensor, or each tensor of an LSTM's ``(h, c)``."""
    if isinstance(state, tuple):
        return tuple(fn(s) for s in state)
    return fn(state)


def _top_h(state) -> torch.Tensor:
    return state[0] if isinstance(state, tuple) else state


class StackedRNN(nn.Module):
    """``layers`` RNN layers on top of each other, with optional skip connections.

    forward(x (batch, T, input_size), state=None, lengths=None) -> (output, state):
    output (batch, T, directions * hidden) is the top layer's states (zeros at padding when
    ``lengths`` is given); state is the final state of every layer, (layers * directions,
    batch, hidden) (a pair for an LSTM). ``lengths`` (batch,) packs the batch so padding is
    never read. ``residual``: layer l >= 2 returns ``x + RNN_l(x)``. ``dropout`` is applied to
    the output of every layer but the last, in training mode only.
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, layers: int = 1, *, residual: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False):
        super().__init__()
        one_of("cell", cell, tuple(_CELLS))
        self.cell = cell
        self.input_size = positive_int("input_size", input_size)
        self.hidden_size = positive_int("hidden_size", hidden_size)
        self.num_layers = positive_int("layers", layers)
        self.residual, self.bidirectional = boolean("residual", residual), boolean("bidirectional", bidirectional)
        self.directions = 2 if bidirectional else 1
        self.dropout = nn.Dropout(finite_float("dropout", dropout, low=0.0, high=0.99))
        width = self.directions * hidden_size
        self.layers = nn.ModuleList(
            _CELLS[cell](input_size if i == 0 else width, hidden_size, batch_first=True, bidirectional=bidirectional)
            for i in range(layers)
        )

    def forward(self, x: torch.Tensor, state=None, lengths: torch.Tensor | None = None):
        if x.dim() != 3 or x.shape[2] != self.input_size:
            raise ValueError(f"x must be (batch, T, {self.input_size}), got {tuple(x.shape)}")
        total_length = x.shape[1]
        if lengths is not None:
            # Packing makes each RNN stop at each sequence's true end; the packed data of every
            # layer lines up row for row, so residual sums and dropout work on it directly.
            x = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        d = self.directions
        finals = []
        for i, rnn in enumerate(self.layers):
            layer_state = None if state is None else map_state(state, lambda s: s[i * d:(i + 1) * d].contiguous())
            y, final = rnn(x, layer_state)
            if self.residual and i > 0:
                y = _combine(x, y, torch.add)  # skip connection: y = x + RNN(x)
            if i < len(self.layers) - 1:
                y = _combine(y, None, self.dropout)
            finals.append(final)
            x = y
        if isinstance(x, PackedSequence):
            x, _ = pad_packed_sequence(x, batch_first=True, total_length=total_length)
        if isinstance(finals[0], tuple):
            final_state = (torch.cat([f[0] for f in finals]), torch.cat([f[1] for f in finals]))
        else:
            final_state = torch.cat(finals)
        return x, final_state  # (batch, T, directions * hidden), (layers * directions, batch, hidden)


def _combine(a, b, fn):
    """fn(a, b) (or fn(a)) on tensors or on the data of two aligned PackedSequences."""
    if isinstance(a, PackedSequence):
        data = fn(a.data) if b is None else fn(a.data, b.data)
        return a._replace(data=data)
    return fn(a) if b is None else fn(a, b)


class Encoder(nn.Module):
    """Embedding, then a :class:`StackedRNN` over the source.

    forward(src_ids (batch, src_len) long, src_lengths (batch,) long) -> (memory, state):
    ``memory`` (batch, src_len, directions * hidden) holds every encoder state h_j (zeros at
    padding; for a bidirectional encoder h_j = [fwd h_j ; bwd h_j]), ``state`` the final states
    (layers * directions, batch, hidden) (a pair for an LSTM).
    """

    def __init__(self, vocab_size: int, embed_size: int, hidden_size: int, *, cell: str = "lstm", layers: int = 1,
                 residual: bool = False, dropout: float = 0.0, bidirectional: bool = False, pad_id: int = 0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size, padding_idx=pad_id)
        self.rnn = StackedRNN(cell, embed_size, hidden_size, layers, residual=residual, dropout=dropout,
                              bidirectional=bidirectional)
        self.output_size = self.rnn.directions * hidden_size

    def forward(self, src_ids: torch.Tensor, src_lengths: torch.Tensor):
        embedded = self.embedding(src_ids)  # (batch, src_len, embed)
        return self.rnn(embedded, lengths=src_lengths)  # (batch, src_len, D_enc), final states


class Bridge(nn.Module):
    """The encoder's final states -> the decoder's initial state, layer by layer.

    kind:
      ``"copy"``: as they are (one direction, encoder size == decoder size; chapters 02-03).
      ``"linear"``: ``tanh(W_h [fwd; bwd])`` for h (and ``W_c [fwd; bwd]`` for an LSTM's cell
        state, no tanh: cell states are not bounded); one W per kind of state, shared by layers.
        Costs (directions * enc) * dec weights (+ the same for c).
      ``"sum"``: fwd + bwd (no parameters; sizes must agree).
      ``"backward"``: the backward direction's final state only, which has read the whole source
        ending at its first token (no parameters; Bahdanau et al. 2015 start from it).
      ``"zeros"``: no hand-off; the decoder starts from zeros and sees the source only through
        attention.
    forward(final) with final (layers * directions, batch, enc) (or a pair) returns
    (layers, batch, dec) (or a pair).
    """

    def __init__(self, kind: str, cell: str, enc_size: int, dec_size: int, layers: int, directions: int):
        super().__init__()
        self.kind, self.cell = kind, cell
        self.layers, self.directions, self.dec_size = layers, directions, dec_size
        if kind == "linear":
            self.W_h = nn.Linear(directions * enc_size, dec_size)
            self.W_c = nn.Linear(directions * enc_size, dec_size) if cell == "lstm" else None

    def _one(self, s: torch.Tensor, W: nn.Linear | None, squash: bool) -> torch.Tensor:
        d, batch = self.directions, s.shape[1]
        per_layer = s.view(self.layers, d, batch, s.shape[2])  # (layers, directions, batch, enc)
        if self.kind == "copy":
            return s
        if self.kind == "zeros":
            return s.new_zeros(self.layers, batch, self.dec_size)
        if self.kind == "sum":
            return per_layer.sum(1)  # (layers, batch, enc)
        if self.kind == "backward":
            return per_layer[:, 1]  # (layers, batch, enc)
        joined = per_layer.permute(0, 2, 1, 3).reshape(self.layers, batch, -1)  # (layers, batch, d * enc)
        out = W(joined)  # (layers, batch, dec)
        return torch.tanh(out) if squash else out

    def forward(self, final):
        if isinstance(final, tuple):
            return self._one(final[0], getattr(self, "W_h", None), True), self._one(final[1], self.W_c if
                                                                                      self.kind == "linear" else None,
                                                                                      False)
        return self._one(final, getattr(self, "W_h", None), True)

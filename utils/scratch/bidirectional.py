"""A bidirectional recurrent layer from scratch in NumPy, built from two one-way layers.

Chapter 06's encoder reads the source twice: a **forward** layer left to right, giving
:math:`\\overrightarrow{h}_j` (it has read :math:`x_1..x_j`), and a **backward** layer right to
left, giving :math:`\\overleftarrow{h}_j` (it has read :math:`x_j..x_T`). The state of position
:math:`j` is their concatenation

.. math::  h_j = [\\overrightarrow{h}_j ; \\overleftarrow{h}_j] \\in \\mathbb{R}^{2H},

so every position sees its left *and* its right context.

Nothing new is needed for that: :class:`Bidirectional` *composes* two layers of
:mod:`utils.scratch.rnn` (RNN, LSTM, PeepholeLSTM or GRU). The backward layer is an ordinary
forward-running layer fed the sequence reversed. With padding, "reversed" must mean
**reversed within each sequence's length** (:func:`reverse_within_lengths`): a row
``c a t <pad> <pad>`` becomes ``t a c <pad> <pad>``, not ``<pad> <pad> t a c``, or the
backward layer would read the padding first and start the real word from a state that
depends on how much padding the batch happened to have. This is what PyTorch does for a
packed batch in ``nn.LSTM(..., bidirectional=True)``.

Conventions are those of :mod:`utils.scratch.rnn`: batch first, ``params``/``grads`` dicts of
float64 arrays, ``forward``/``backward``. The parameters of the two directions are exposed
under the prefixes ``forward.`` and ``backward.`` (``"forward.W_xf"``, ``"backward.b_hn"``),
the *same arrays* as the sub-layers', so ``utils.check_layer`` can perturb them in place.
"""
from __future__ import annotations

import numpy as np

from .rnn import GRU, LSTM, RNN, _as_float64

__all__ = ["Bidirectional", "length_mask", "reverse_within_lengths"]


def _check_lengths(lengths, batch: int, steps: int) -> np.ndarray:
    """``lengths`` as an int array (batch,) with 1 <= length <= steps; None means all full."""
    if lengths is None:
        return np.full(batch, steps, dtype=np.int64)
    if hasattr(lengths, "detach"):
        lengths = lengths.detach().cpu().numpy()
    array = np.asarray(lengths)
    if array.dtype == bool or not np.issubdtype(array.dtype, np.integer):
        if np.issubdtype(array.dtype, np.floating) and np.all(np.isfinite(array)) and np.all(array == np.round(array)):
            array = array.astype(np.int64)
        else:
            raise TypeError(f"lengths must hold integers, got dtype {array.dtype}")
    if array.shape != (batch,):
        raise ValueError(f"lengths must have shape (batch,) = ({batch},), one length per sequence, got {array.shape}")
    if np.any(array < 1) or np.any(array > steps):
        raise ValueError(f"every length must be between 1 and T = {steps} (the padded length), got {array.tolist()}")
    return array.astype(np.int64)


def length_mask(lengths, steps: int) -> np.ndarray:
    """Bool mask (batch, steps): True at the real steps t < lengths[b], False at padding."""
    lengths = np.asarray(lengths)
    return np.arange(steps)[None, :] < lengths[:, None]  # (batch, steps)


def reverse_within_lengths(x, lengths=None) -> np.ndarray:
    """Reverse each row's first ``lengths[b]`` steps; the padding after them stays where it is.

    x: array (batch, T) or (batch, T, features), batch first, padding at the end of each row.
    lengths: ints (batch,), each 1..T (None: every row is full, a plain flip along time).
    Returns a new array of x's shape: ``out[b, t] = x[b, lengths[b] - 1 - t]`` for
    ``t < lengths[b]`` and ``out[b, t] = x[b, t]`` at the padding. Applying it twice gives x back.
    """
    if hasattr(x, "detach"):
        raise TypeError("x must be a NumPy array, got a torch tensor; use .numpy()")
    x = np.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"x must be (batch, T) or (batch, T, features), got shape {x.shape}")
    batch, steps = x.shape[:2]
    lengths = _check_lengths(lengths, batch, steps)
    t = np.arange(steps)[None, :]  # (1, T)
    source = np.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)  # (batch, T): where step t comes from
    return x[np.arange(batch)[:, None], source]


class Bidirectional:
    """Two recurrent layers, one reading forwards and one backwards; states concatenated.

    Bidirectional(cell, input_size, hidden_size, rng=None): ``cell`` is one of the classes of
    :mod:`utils.scratch.rnn` (``RNN``, ``LSTM``, ``PeepholeLSTM``, ``GRU``); the two directions
    get their own weights (``forward_layer``, ``backward_layer``), each with ``hidden_size`` H.
    ``Bidirectional.from_layers(forward_layer, backward_layer)`` wraps two existing layers.

    forward(x (batch, T, input), lengths=None (batch,), return_sequences=True)
        -> hs (batch, T, 2H): ``hs[:, t] = [forward h_t ; backward h_t]``, zeros at padding
           (as ``pad_packed_sequence`` gives); or, with ``return_sequences=False``, the two
           final states (batch, 2H): ``[forward h at the last real step ; backward h at step 0]``
           (each direction's last state; torch's ``h_n[0]`` and ``h_n[1]``).
    backward(dh) -> dx (batch, T, input): dh has the shape forward returned (or the other
        mode's shape); the gradient of each half goes to its direction, the backward half
        reversed within the lengths before and its dx reversed back after; padding gets none.
        Fills the sub-layers' grads, exposed as ``grads``.
    """

    def __init__(self, cell, input_size: int, hidden_size: int, rng=None):
        if not (isinstance(cell, type) and issubclass(cell, (RNN, LSTM, GRU))):
            raise TypeError(f"cell must be one of the classes RNN, LSTM, PeepholeLSTM, GRU of "
                            f"utils.scratch.rnn, got {cell!r}")
        rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
        self._init(cell(input_size, hidden_size, rng=rng), cell(input_size, hidden_size, rng=rng))

    @classmethod
    def from_layers(cls, forward_layer, backward_layer) -> Bidirectional:
        """Wrap two existing layers of the same class and sizes (forward, backward)."""
        for name, layer in (("forward_layer", forward_layer), ("backward_layer", backward_layer)):
            if not isinstance(layer, (RNN, LSTM, GRU)):
                raise TypeError(f"{name} must be a utils.scratch.rnn layer, got {type(layer).__name__}")
        if type(forward_layer) is not type(backward_layer):
            raise TypeError(f"both directions must be the same cell, got {type(forward_layer).__name__} "
                            f"and {type(backward_layer).__name__}")
        if (forward_layer.input_size, forward_layer.hidden_size) != (backward_layer.input_size,
                                                                    backward_layer.hidden_size):
            raise ValueError("both directions must have the same input_size and hidden_size, got "
                             f"{forward_layer!r} and {backward_layer!r}")
        self = cls.__new__(cls)
        self._init(forward_layer, backward_layer)
        return self

    def _init(self, forward_layer, backward_layer) -> None:
        self.forward_layer, self.backward_layer = forward_layer, backward_layer
        self.input_size, self.hidden_size = forward_layer.input_size, forward_layer.hidden_size
        self.cache = None

    def __repr__(self) -> str:
        return (f"Bidirectional({type(self.forward_layer).__name__}, input_size={self.input_size}, "
                f"hidden_size={self.hidden_size} per direction)")

    # The two directions' arrays under one roof (the same objects, so in-place perturbation works).
    @property
    def params(self) -> dict[str, np.ndarray]:
        return {**{f"forward.{k}": v for k, v in self.forward_layer.params.items()},
                **{f"backward.{k}": v for k, v in self.backward_layer.params.items()}}

    @property
    def grads(self) -> dict[str, np.ndarray]:
        return {**{f"forward.{k}": v for k, v in self.forward_layer.grads.items()},
                **{f"backward.{k}": v for k, v in self.backward_layer.grads.items()}}

    def forward(self, x, lengths=None, return_sequences: bool = True) -> np.ndarray:
        x = _as_float64(x, "x", "(batch, T, input_size)", 3)
        if x.shape[0] == 0 or x.shape[1] == 0:
            raise ValueError(f"Bidirectional: x must hold at least one step of one sequence, got shape {x.shape}")
        batch, steps, _ = x.shape
        lengths = _check_lengths(lengths, batch, steps)
        mask = length_mask(lengths, steps)[:, :, None]  # (batch, T, 1)
        # Forward direction: padding comes *after* the real steps, so it cannot change them.
        h_forward = self.forward_layer.forward(x)  # (batch, T, H)
        # Backward direction: the same kind of layer, fed each row reversed within its length.
        h_backward_reversed = self.backward_layer.forward(reverse_within_lengths(x, lengths))  # (batch, T, H)
        h_backward = reverse_within_lengths(h_backward_reversed, lengths)  # (batch, T, H), back in source order
        hs = np.concatenate([h_forward, h_backward], axis=2) * mask  # (batch, T, 2H), zeros at padding
        self.cache = {"lengths": lengths, "mask": mask, "steps": steps, "batch": batch}
        if return_sequences:
            return hs
        return self.final_states(hs, lengths)

    def final_states(self, hs: np.ndarray, lengths) -> np.ndarray:
        """Each direction's last state from all states hs (batch, T, 2H) -> (batch, 2H).

        The forward direction ends at the last real step (lengths - 1), the backward one at
        step 0 (it read the row from its end back to the start).
        """
        H = self.hidden_size
        rows = np.arange(hs.shape[0])
        return np.concatenate([hs[rows, np.asarray(lengths) - 1, :H], hs[:, 0, H:]], axis=1)  # (batch, 2H)

    def backward(self, dh) -> np.ndarray:
        if self.cache is None:
            raise RuntimeError("Bidirectional.backward called before forward")
        lengths, mask, steps, batch = (self.cache[k] for k in ("lengths", "mask", "steps", "batch"))
        H = self.hidden_size
        dh = _as_float64(dh, "dh", "(batch, T, 2*hidden) or (batch, 2*hidden)", np.ndim(dh))
        if dh.shape == (batch, 2 * H):  # gradient w.r.t. the two final states only
            full = np.zeros((batch, steps, 2 * H))
            full[np.arange(batch), lengths - 1, :H] = dh[:, :H]  # forward: its last real step
            full[:, 0, H:] = dh[:, H:]  # backward: step 0
            dh = full
        elif dh.shape != (batch, steps, 2 * H):
            raise ValueError(f"Bidirectional.backward: dh must have shape (batch, T, 2H) = {(batch, steps, 2 * H)} "
                             f"or (batch, 2H) = {(batch, 2 * H)}, got {dh.shape}")
        dh = dh * mask  # the outputs at padding were set to zero: no gradient flows from there
        dx_forward = self.forward_layer.backward(dh[:, :, :H])  # (batch, T, input)
        # The backward layer saw reversed rows, so its gradient must be reversed the same way,
        # and its input gradient reversed back to the source order.
        dx_backward_reversed = self.backward_layer.backward(reverse_within_lengths(dh[:, :, H:], lengths))
        dx_backward = reverse_within_lengths(dx_backward_reversed, lengths)  # (batch, T, input)
        return dx_forward + dx_backward

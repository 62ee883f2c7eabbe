"""The textbook's attention layers, from scratch in NumPy (no torch).

The textbook view splits dot-product attention into two small layers:

* :class:`AttentionWeight`: scores ``e_j = h_j . s`` between one decoder state ``s`` and every
  encoder state ``h_j``, then a softmax over the source positions ``j``: weights ``a``.
* :class:`WeightedSum`: the context vector ``c = sum_j a_j h_j``.

:class:`Attention` chains the two for one decoder step; :class:`TimeAttention` applies it at
every decoder step (a different context vector per step). Each layer is a small class with
``params``, ``grads`` (dicts of arrays, as in ``utils.scratch.check_layer``), ``forward`` and
``backward``; none of them has weights of its own (``params == grads == {}``): attention learns
through the encoder and decoder states it reads.

Shapes (batched): encoder states ``hs`` ``(batch, src_len, hidden)``, one decoder state ``s``
``(batch, hidden)``, weights ``a`` ``(batch, src_len)``, context ``c`` ``(batch, hidden)``. An
optional boolean ``mask`` ``(batch, src_len)`` is True where attention is allowed (the convention
of ``utils.nn.masked_softmax`` and ``torch.nn.functional.scaled_dot_product_attention``).
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "softmax",
    "AttentionWeight",
    "WeightedSum",
    "Attention",
    "TimeAttention",
]


# --------------------------------------------------------------------------- input checks
def _as_float_array(x, name: str, ndim: int, shape_doc: str) -> np.ndarray:
    """Return ``x`` as a float ndarray with ``ndim`` axes, or raise a clear error."""
    if not isinstance(x, np.ndarray):
        if hasattr(x, "detach"):  # a torch tensor passed by mistake
            raise TypeError(f"{name} must be a NumPy array {shape_doc}, got a torch tensor; use .numpy()")
        x = np.asarray(x)
    if x.dtype == bool or not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x):
        raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}")
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    if x.ndim != ndim:
        raise ValueError(f"{name} must have shape {shape_doc} ({ndim} axes), got shape {x.shape}")
    if 0 in x.shape:
        raise ValueError(f"{name} must not be empty, got shape {x.shape} {shape_doc}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or inf")
    return x


def _as_mask(mask, shape: tuple[int, ...]) -> np.ndarray | None:
    """Return ``mask`` as a bool array of ``shape`` (True = attention allowed), or None."""
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.dtype != bool:
        raise TypeError(f"mask must be a boolean array (True = allowed), got dtype {mask.dtype}")
    if mask.shape != shape:
        raise ValueError(f"mask must have shape {shape} like the scores (batch, src_len), got {mask.shape}")
    return mask


def _check_grad(dout, expected_shape: tuple[int, ...], name: str, layer: str) -> np.ndarray:
    dout = _as_float_array(dout, name, len(expected_shape), str(expected_shape))
    if dout.shape != expected_shape:
        raise ValueError(f"{layer}.backward: {name} must have the forward output's shape {expected_shape}, "
                         f"got {dout.shape}")
    return dout


# --------------------------------------------------------------------------- softmax
def softmax(scores, mask=None) -> np.ndarray:
    """Softmax over the last axis, ignoring positions where ``mask`` is False.

    scores: ``(..., n)`` real array; mask: bool array of the same shape (True = allowed) or None.
    Returns an array of the scores' shape whose rows are non-negative and sum to 1. A row whose
    positions are all masked returns zeros, not NaN. The NumPy twin of ``utils.nn.masked_softmax``.
    """
    scores = np.asarray(scores)
    if scores.dtype == bool or not np.issubdtype(scores.dtype, np.number):
        raise TypeError(f"scores must hold real numbers, got dtype {scores.dtype}")
    if scores.ndim == 0 or scores.shape[-1] == 0:
        raise ValueError(f"scores must have a non-empty last axis, got shape {scores.shape}")
    if np.isnan(scores).any() or np.isposinf(scores).any():
        raise ValueError("scores contain NaN or +inf")
    scores = scores.astype(np.result_type(scores.dtype, np.float32))
    if mask is not None:
        mask = np.asarray(mask)
        if mask.dtype != bool:
            raise TypeError(f"mask must be a boolean array (True = allowed), got dtype {mask.dtype}")
        if mask.shape != scores.shape:
            raise ValueError(f"mask must have the scores' shape {scores.shape}, got {mask.shape}")
        scores = np.where(mask, scores, -np.inf)
    # Subtract the row maximum so exp never overflows; a fully masked row has max -inf: use 0.
    row_max = scores.max(axis=-1, keepdims=True)
    row_max = np.where(np.isfinite(row_max), row_max, 0.0)
    exp = np.exp(scores - row_max)  # masked positions: exp(-inf) = 0
    total = exp.sum(axis=-1, keepdims=True)
    return np.divide(exp, total, out=np.zeros_like(exp), where=total > 0)



# --------------------------------------------------------------------------- layers
class AttentionWeight:
    """Scores between one decoder state and all encoder states, softmaxed over source positions.

    forward(hs, s, mask=None): hs ``(batch, src_len, hidden)`` encoder states, s ``(batch, hidden)``
    decoder state -> a ``(batch, src_len)`` with ``e_j = h_j . s`` and ``a = softmax_j(e)``.
    backward(da): da ``(batch, src_len)`` -> (dhs ``(batch, src_len, hidden)``, ds ``(batch, hidden)``).
    """

    def __init__(self):
        self.params: dict[str, np.ndarray] = {}  # no weights: the score is a plain dot product
        self.grads: dict[str, np.ndarray] = {}
        self.cache = None

    def forward(self, hs, s, mask=None) -> np.ndarray:
        hs = _as_float_array(hs, "hs", 3, "(batch, src_len, hidden)")
        s = _as_float_array(s, "s", 2, "(batch, hidden)")
        if s.shape != (hs.shape[0], hs.shape[2]):
            raise ValueError(
                f"AttentionWeight: s must be (batch, hidden) = {(hs.shape[0], hs.shape[2])} to match "
                f"hs {hs.shape} (batch, src_len, hidden), got {s.shape}"
            )
        mask = _as_mask(mask, hs.shape[:2])
        scores = (hs * s[:, None, :]).sum(axis=2)  # (batch, src_len): e_j = h_j . s
        a = softmax(scores, mask)  # (batch, src_len)
        self.cache = (hs, s, a)
        return a

    def backward(self, da) -> tuple[np.ndarray, np.ndarray]:
        if self.cache is None:
            raise RuntimeError("AttentionWeight.backward called before forward")
        hs, s, a = self.cache
        da = _check_grad(da, a.shape, "da", "AttentionWeight")
        # Softmax backward: de_j = a_j (da_j - sum_k a_k da_k). Masked positions have a_j = 0,
        # so they get no gradient, and a fully masked row gets none at all.
        de = a * (da - (a * da).sum(axis=1, keepdims=True))  # (batch, src_len)
        dhs = de[:, :, None] * s[:, None, :]  # (batch, src_len, hidden): d(h_j . s)/dh_j = s
        ds = (de[:, :, None] * hs).sum(axis=1)  # (batch, hidden): sum_j de_j h_j
        return dhs, ds


class WeightedSum:
    """The context vector: the attention-weighted sum of the encoder states.

    forward(hs, a): hs ``(batch, src_len, hidden)``, a ``(batch, src_len)`` -> c ``(batch, hidden)``
    with ``c = sum_j a_j h_j``.
    backward(dc): dc ``(batch, hidden)`` -> (dhs ``(batch, src_len, hidden)``, da ``(batch, src_len)``).
    """

    def __init__(self):
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.cache = None

    def forward(self, hs, a) -> np.ndarray:
        hs = _as_float_array(hs, "hs", 3, "(batch, src_len, hidden)")
        a = _as_float_array(a, "a", 2, "(batch, src_len)")
        if a.shape != hs.shape[:2]:
            raise ValueError(
                f"WeightedSum: a must be (batch, src_len) = {hs.shape[:2]} to match hs {hs.shape} "
                f"(batch, src_len, hidden), got {a.shape}"
            )
        c = (a[:, :, None] * hs).sum(axis=1)  # (batch, hidden)
        self.cache = (hs, a)
        return c

    def backward(self, dc) -> tuple[np.ndarray, np.ndarray]:
        if self.cache is None:
            raise RuntimeError("WeightedSum.backward called before forward")
        hs, a = self.cache
        dc = _check_grad(dc, (hs.shape[0], hs.shape[2]), "dc", "WeightedSum")
        dhs = a[:, :, None] * dc[:, None, :]  # (batch, src_len, hidden): dc/dh_j = a_j
        da = (hs * dc[:, None, :]).sum(axis=2)  # (batch, src_len): dc/da_j = h_j
        return dhs, da


class Attention:
    """One decoder step of dot attention: AttentionWeight, then WeightedSum.

    forward(hs, s, mask=None): hs ``(batch, src_len, hidden)``, s ``(batch, hidden)``
    -> c ``(batch, hidden)``; the weights of the call are kept in ``attention_weight``
    ``(batch, src_len)``.
    backward(dc) -> (dhs ``(batch, src_len, hidden)``, ds ``(batch, hidden)``); ``hs`` feeds both
    layers, so its gradient is the sum of the two paths.
    """

    def __init__(self):
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.attention_weight_layer = AttentionWeight()
        self.weighted_sum_layer = WeightedSum()
        self.attention_weight: np.ndarray | None = None

    def forward(self, hs, s, mask=None) -> np.ndarray:
        a = self.attention_weight_layer.forward(hs, s, mask)  # (batch, src_len)
        c = self.weighted_sum_layer.forward(hs, a)  # (batch, hidden)
        self.attention_weight = a
        return c

    def backward(self, dc) -> tuple[np.ndarray, np.ndarray]:
        dhs_sum, da = self.weighted_sum_layer.backward(dc)
        dhs_score, ds = self.attention_weight_layer.backward(da)
        return dhs_sum + dhs_score, ds


class TimeAttention:
    """Attention at every decoder step: a different context vector per output position.

    forward(hs_enc, hs_dec, mask=None): hs_enc ``(batch, src_len, hidden)`` encoder states,
    hs_dec ``(batch, tgt_len, hidden)`` decoder states -> contexts ``(batch, tgt_len, hidden)``;
    ``attention_weights`` ``(batch, tgt_len, src_len)`` keeps every step's weights. The optional
    mask ``(batch, src_len)`` (True = allowed) is the same at every step.
    backward(dcontexts) -> (dhs_enc ``(batch, src_len, hidden)``, dhs_dec ``(batch, tgt_len, hidden)``).
    """

    def __init__(self):
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.layers: list[Attention] = []
        self.attention_weights: np.ndarray | None = None

    def forward(self, hs_enc, hs_dec, mask=None) -> np.ndarray:
        hs_enc = _as_float_array(hs_enc, "hs_enc", 3, "(batch, src_len, hidden)")
        hs_dec = _as_float_array(hs_dec, "hs_dec", 3, "(batch, tgt_len, hidden)")
        batch, _, hidden = hs_enc.shape
        if hs_dec.shape[0] != batch or hs_dec.shape[2] != hidden:
            raise ValueError(
                f"TimeAttention: hs_dec must be (batch={batch}, tgt_len, hidden={hidden}) to match "
                f"hs_enc {hs_enc.shape}, got {hs_dec.shape}"
            )
        self.layers = []
        contexts = np.empty_like(hs_dec)  # (batch, tgt_len, hidden)
        weights = []
        for t in range(hs_dec.shape[1]):
            layer = Attention()
            contexts[:, t, :] = layer.forward(hs_enc, hs_dec[:, t, :], mask)
            weights.append(layer.attention_weight)  # (batch, src_len)
            self.layers.append(layer)
        self.attention_weights = np.stack(weights, axis=1)  # (batch, tgt_len, src_len)
        self._shapes = (hs_enc.shape, hs_dec.shape)
        return contexts

    def backward(self, dcontexts) -> tuple[np.ndarray, np.ndarray]:
        if not self.layers:
            raise RuntimeError("TimeAttention.backward called before forward")
        enc_shape, dec_shape = self._shapes
        dcontexts = _check_grad(dcontexts, dec_shape, "dcontexts", "TimeAttention")
        dhs_enc = np.zeros(enc_shape, dtype=dcontexts.dtype)
        dhs_dec = np.zeros(dec_shape, dtype=dcontexts.dtype)
        for t, layer in enumerate(self.layers):
            dhs, ds = layer.backward(dcontexts[:, t, :])
            dhs_enc += dhs  # every step reads the same encoder states: gradients add up
            dhs_dec[:, t, :] = ds
        return dhs_enc, dhs_dec

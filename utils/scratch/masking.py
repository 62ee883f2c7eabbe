"""Masks and scaled dot-product attention, from scratch in NumPy (no torch).

Chapter 05's from-scratch layer. Three kinds of mask, all with the convention of
``torch.nn.functional.scaled_dot_product_attention``: **True means "may attend"**.

* :func:`padding_mask`: ``(batch, max_len)``, True at the real tokens of each sequence, False
  at its padding, built from the sequence lengths;
* :func:`causal_mask`: ``(n_queries, n_keys)``, True where key ``j <= i`` (query ``i`` may look at
  itself and the past, never the future);
* :func:`mlm_mask`: BERT's masked-language-model corruption (choose 15% of the ordinary
  tokens; of those 80% become ``[MASK]``, 10% a random token, 10% stay).

:class:`ScaledDotProductAttention` is a layer in the textbook style (``params``, ``grads``,
``forward``, ``backward``):

.. math::  \\mathrm{Attention}(Q, K, V) = \\mathrm{softmax}\\Big(\\frac{Q K^\\top}{\\sqrt{d_k}}\\Big) V

with query ``(..., n_queries, d_k)``, key ``(..., n_keys, d_k)``, value ``(..., n_keys, d_v)``.
:func:`scaled_dot_product_attention` is the same computation as one function returning
``(output, weights)``; ``utils.nn.masking.scaled_dot_product_attention`` is its torch twin.

A mask has **one axis per score axis**, each of size 1 or the scores' size: for scores
``(batch, n_queries, n_keys)`` a padding mask is ``(batch, 1, n_keys)``. A ``(batch, n_keys)``
mask is refused rather than broadcast from the left, which would silently pair query row
``t`` with sequence ``t``'s padding whenever ``batch == n_queries``.
"""
from __future__ import annotations

import numpy as np

from . import attention as _attention

__all__ = [
    "IGNORE_LABEL",
    "ScaledDotProductAttention",
    "causal_mask",
    "check_mask",
    "mlm_mask",
    "padding_mask",
    "scaled_dot_product_attention",
]

# The masked softmax is written once, in utils.scratch.attention: reuse it, never a second copy.
_masked_softmax = _attention.softmax

#: Label of a position the masked-language-model loss ignores (PyTorch's ``ignore_index`` default).
IGNORE_LABEL = -100


# --------------------------------------------------------------------------- masks
def _as_int_array(x, name: str) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    x = np.asarray(x)
    if x.dtype == bool or not np.issubdtype(x.dtype, np.integer):
        if np.issubdtype(x.dtype, np.floating) and np.all(np.isfinite(x)) and np.all(x == np.round(x)):
            x = x.astype(np.int64)
        else:
            raise TypeError(f"{name} must hold integers, got dtype {x.dtype}")
    return x


def padding_mask(lengths, max_len: int | None = None) -> np.ndarray:
    """Padding mask from sequence lengths: True at real tokens, False at padding.

    lengths: ``(batch,)`` non-negative ints; max_len: the padded length (default: the longest).
    Returns a bool array ``(batch, max_len)`` with ``mask[b, j] = j < lengths[b]``.
    """
    lengths = _as_int_array(lengths, "lengths")
    if lengths.ndim != 1 or lengths.size == 0:
        raise ValueError(f"lengths must be a non-empty 1-D array (batch,), got shape {lengths.shape}")
    if (lengths < 0).any():
        raise ValueError(f"lengths must be >= 0, got {lengths.tolist()}")
    longest = int(lengths.max())
    if max_len is None:
        max_len = longest
    if isinstance(max_len, bool) or not isinstance(max_len, (int, np.integer)) or max_len < 0:
        raise ValueError(f"max_len must be a non-negative int, got {max_len!r}")
    if max_len < longest:
        raise ValueError(f"max_len={max_len} is shorter than the longest sequence ({longest}): "
                         "it would cut real tokens")
    return np.arange(max_len)[None, :] < lengths[:, None]  # (batch, max_len)


def causal_mask(n_queries: int, n_keys: int | None = None) -> np.ndarray:
    """Causal (look-ahead) mask: query ``i`` may attend to keys ``j <= i`` only.

    Returns a bool array ``(n_queries, n_keys)`` (``n_keys`` defaults to ``n_queries``): the
    lower triangle *with* the diagonal (a position sees itself), aligned at the top-left corner
    as ``torch.nn.functional.scaled_dot_product_attention(..., is_causal=True)`` does.
    """
    if n_keys is None:
        n_keys = n_queries
    for name, n in (("n_queries", n_queries), ("n_keys", n_keys)):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"{name} must be a positive int, got {n!r}")
    return np.tril(np.ones((n_queries, n_keys), dtype=bool))  # (n_queries, n_keys)


def check_mask(mask, scores_shape: tuple[int, ...]) -> np.ndarray:
    """Return ``mask`` broadcast to ``scores_shape``, or raise an error that names the problem.

    mask: bool array with one axis per score axis, each of size 1 or the scores' size
    (e.g. ``(batch, 1, n_keys)`` for scores ``(batch, n_queries, n_keys)``).
    """
    if hasattr(mask, "detach"):
        raise TypeError("mask must be a NumPy bool array, got a torch tensor; use .numpy()")
    mask = np.asarray(mask)
    if mask.dtype != bool:
        raise TypeError(
            f"mask must be a boolean array (True = may attend), got dtype {mask.dtype}; build it with a "
            "comparison such as `ids != pad_id`"
        )
    if mask.ndim != len(scores_shape):
        raise ValueError(
            f"mask has {mask.ndim} axes {mask.shape} but the scores have {len(scores_shape)} {tuple(scores_shape)}: "
            "a mask needs one axis per score axis (broadcasting from the left would silently pair the wrong "
            "rows); a (batch, n_keys) padding mask for (batch, n_queries, n_keys) scores is mask[:, None, :]"
        )
    for axis, (m, s) in enumerate(zip(mask.shape, scores_shape)):
        if m not in (1, s):
            raise ValueError(
                f"mask of shape {mask.shape} does not broadcast to the scores {tuple(scores_shape)}: axis {axis} "
                f"has size {m}, not 1 or {s} (a padding mask masks the LAST axis, the keys: (batch, 1, n_keys))"
            )
    return np.broadcast_to(mask, scores_shape)


# --------------------------------------------------------------------------- attention
def _as_float(x, name: str, shape_doc: str) -> np.ndarray:
    if hasattr(x, "detach"):
        raise TypeError(f"{name} must be a NumPy array {shape_doc}, got a torch tensor; use .numpy()")
    x = np.asarray(x)
    if x.dtype == bool or not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x):
        raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}")
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    if x.ndim < 2:
        raise ValueError(f"{name} must have shape {shape_doc} (at least 2 axes), got {x.shape}")
    if 0 in x.shape:
        raise ValueError(f"{name} must not be empty, got shape {x.shape} {shape_doc}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or inf")
    return x


class ScaledDotProductAttention:
    """Scaled dot-product attention with a hand-written backward pass.

    forward(query, key, value, mask=None, causal=False) -> output ``(..., n_queries, d_v)``:
        query ``(..., n_queries, d_k)``, key ``(..., n_keys, d_k)``, value ``(..., n_keys, d_v)``
        (the same leading axes ``...`` for all three, e.g. ``(batch,)`` or ``(batch, heads)``);
        mask: bool with one axis per score axis ``(..., n_queries, n_keys)``, each of size 1 or
        the scores' size, True = may attend; causal=True also hides the future (ANDed with mask).
        Scores ``e = q k^T / sqrt(d_k)``, weights ``a = softmax(e)`` over the keys (masked
        positions get exactly 0; a query with nothing to attend to gets all-zero weights and a
        zero output, never NaN), output ``a v``. The weights of the call are kept in ``weights``.
    backward(dout) -> (dquery, dkey, dvalue), each shaped like its input.
    The layer has no parameters of its own (``params == grads == {}``); in a Transformer the
    projections W_Q, W_K, W_V that make q, k, v sit outside it.
    """

    def __init__(self):
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.weights: np.ndarray | None = None
        self.cache = None

    def forward(self, query, key, value, mask=None, causal: bool = False) -> np.ndarray:
        query = _as_float(query, "query", "(..., n_queries, d_k)")
        key = _as_float(key, "key", "(..., n_keys, d_k)")
        value = _as_float(value, "value", "(..., n_keys, d_v)")
        if not (query.ndim == key.ndim == value.ndim) or not (query.shape[:-2] == key.shape[:-2] == value.shape[:-2]):
            raise ValueError(
                f"query {query.shape}, key {key.shape} and value {value.shape} must share their leading axes "
                "(..., e.g. batch): shapes (..., n_queries, d_k), (..., n_keys, d_k), (..., n_keys, d_v)"
            )
        if query.shape[-1] != key.shape[-1]:
            raise ValueError(
                f"query and key must have the same last size d_k (their dot product is the score), got "
                f"query {query.shape} and key {key.shape}"
            )
        if key.shape[-2] != value.shape[-2]:
            raise ValueError(
                f"key and value must have one row per key position (n_keys), "
                f"got key {key.shape} and value {value.shape}"
            )
        if not isinstance(causal, (bool, np.bool_)):
            raise TypeError(f"causal must be True or False, got {causal!r}")
        n_queries, n_keys, d_k = query.shape[-2], key.shape[-2], query.shape[-1]
        scores_shape = query.shape[:-1] + (n_keys,)  # (..., n_queries, n_keys)
        allowed = None if mask is None else check_mask(mask, scores_shape)
        if causal:
            future_hidden = np.broadcast_to(causal_mask(n_queries, n_keys), scores_shape)
            allowed = future_hidden if allowed is None else allowed & future_hidden
        scale = 1.0 / np.sqrt(d_k)
        scores = np.matmul(query, np.swapaxes(key, -1, -2)) * scale  # (..., n_queries, n_keys)
        if allowed is not None:
            allowed = np.ascontiguousarray(allowed)
        weights = _masked_softmax(scores, allowed)  # (..., n_queries, n_keys)
        output = np.matmul(weights, value)  # (..., n_queries, d_v)
        self.cache = (query, key, value, weights, scale)
        self.weights = weights
        return output

    def backward(self, dout) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self.cache is None:
            raise RuntimeError("ScaledDotProductAttention.backward called before forward")
        query, key, value, weights, scale = self.cache
        expected = weights.shape[:-1] + (value.shape[-1],)
        dout = np.asarray(dout, dtype=np.result_type(value.dtype, np.float32))
        if dout.shape != expected:
            raise ValueError(f"dout must have the output's shape {expected} (..., n_queries, d_v), got {dout.shape}")
        dvalue = np.matmul(np.swapaxes(weights, -1, -2), dout)  # (..., n_keys, d_v): out = a v
        dweights = np.matmul(dout, np.swapaxes(value, -1, -2))  # (..., n_queries, n_keys)
        # Softmax backward row by row: de_j = a_j (da_j - sum_k a_k da_k). Masked keys have
        # a_j = 0, so they get no gradient; a fully masked row gets none at all (not NaN).
        dscores = weights * (dweights - (weights * dweights).sum(axis=-1, keepdims=True))
        dquery = np.matmul(dscores, key) * scale  # (..., n_queries, d_k): e = q k^T * scale
        dkey = np.matmul(np.swapaxes(dscores, -1, -2), query) * scale  # (..., n_keys, d_k)
        return dquery, dkey, dvalue


def scaled_dot_product_attention(query, key, value, mask=None, causal: bool = False):
    """``softmax(q k^T / sqrt(d_k)) v`` with an optional mask; returns ``(output, weights)``.

    query ``(..., n_queries, d_k)``, key ``(..., n_keys, d_k)``, value ``(..., n_keys, d_v)``;
    mask: bool, one axis per score axis ``(..., n_queries, n_keys)`` (each 1 or full size), True
    = may attend; causal=True: query ``i`` sees keys ``j <= i`` only (combined with ``mask``).
    Returns output ``(..., n_queries, d_v)`` and weights ``(..., n_queries, n_keys)``. See
    :class:`ScaledDotProductAttention` for the backward pass.
    """
    layer = ScaledDotProductAttention()
    output = layer.forward(query, key, value, mask=mask, causal=causal)
    return output, layer.weights


# --------------------------------------------------------------------------- masked LM
def _probability(name: str, p) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating, np.integer)) or not 0.0 <= p <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {p!r}")
    return float(p)


def mlm_mask(ids, *, mask_id: int, vocab_size: int, special_ids, rng: np.random.Generator,
             select_prob: float = 0.15, mask_prob: float = 0.8, random_prob: float = 0.1):
    """BERT's masked-language-model corruption of a batch of token ids.

    ids: int array ``(batch, seq_len)`` (or any shape); mask_id: the ``[MASK]`` token's id;
    vocab_size: number of ids; special_ids: ids never chosen and never drawn as the random
    token (padding, ``<s>``, ``</s>``, ``[MASK]``, ...); rng: a ``np.random.Generator``.
    Each ordinary position is *chosen* independently with probability ``select_prob``; a chosen
    position becomes ``[MASK]`` with probability ``mask_prob``, a random ordinary token (drawn
    uniformly, so it may happen to equal the original) with probability ``random_prob``, and
    stays unchanged otherwise.
    Returns ``(inputs, labels)``, both shaped like ``ids``: the corrupted ids, and the original
    id at chosen positions, :data:`IGNORE_LABEL` (-100) elsewhere, so the loss is computed only
    where the model had to guess.
    """
    ids = _as_int_array(ids, "ids")
    if ids.size == 0:
        raise ValueError("ids is empty: nothing to mask")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a np.random.Generator (np.random.default_rng(seed)), got {type(rng).__name__}")
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, (int, np.integer)) or vocab_size < 2:
        raise ValueError(f"vocab_size must be an int >= 2, got {vocab_size!r}")
    if ids.min() < 0 or ids.max() >= vocab_size:
        raise ValueError(f"ids must lie in [0, vocab_size={vocab_size}), got values from {ids.min()} to {ids.max()}")
    special = np.unique(_as_int_array(np.asarray(list(special_ids)), "special_ids"))
    if isinstance(mask_id, bool) or not isinstance(mask_id, (int, np.integer)) or not 0 <= mask_id < vocab_size:
        raise ValueError(f"mask_id must be an id in [0, {vocab_size}), got {mask_id!r}")
    if mask_id not in special:
        raise ValueError(f"mask_id {mask_id} must be one of special_ids {special.tolist()}: "
                         "[MASK] is not a word to predict")
    select_prob = _probability("select_prob", select_prob)
    mask_prob = _probability("mask_prob", mask_prob)
    random_prob = _probability("random_prob", random_prob)
    if mask_prob + random_prob > 1.0 + 1e-12:
        raise ValueError("mask_prob + random_prob must be <= 1 (the rest stays unchanged), "
                         f"got {mask_prob + random_prob}")
    ordinary_ids = np.setdiff1d(np.arange(vocab_size), special)
    if ordinary_ids.size == 0:
        raise ValueError("every id is special: there is no ordinary token to draw as the random replacement")

    ordinary = ~np.isin(ids, special)  # pads and specials are never chosen
    chosen = ordinary & (rng.random(ids.shape) < select_prob)
    what = rng.random(ids.shape)  # one draw per position decides mask / random / keep
    to_mask = chosen & (what < mask_prob)
    to_random = chosen & (what >= mask_prob) & (what < mask_prob + random_prob)
    inputs = ids.copy()
    inputs[to_mask] = mask_id
    inputs[to_random] = rng.choice(ordinary_ids, size=int(to_random.sum()))
    labels = np.where(chosen, ids, IGNORE_LABEL)
    return inputs, labels

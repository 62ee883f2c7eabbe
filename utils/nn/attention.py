"""Attention in PyTorch: the masked softmax, score functions, local windows and the attention layer.

Attention is two choices (chapter 04): **how to score** a query against each key, and **where
the layer sits** in the decoder (see :mod:`utils.nn.decoder`). This module is the first choice
and the three steps every attention layer shares (chapter 03's two textbook layers):

1. **scores** ``e_tj = score(q_t, k_j)`` between each query ``q_t`` (a decoder state) and each
   key ``k_j`` (an encoder state): ``(batch, tgt_len, src_len)``;
2. **attention weights** ``a_tj = softmax_j(e_tj)``, computed by :func:`masked_softmax` so that
   padded source positions get weight exactly 0 (the "Attention Weight" layer);
3. **context** ``c_t = sum_j a_tj v_j`` over the values ``v_j`` (in classic seq2seq the values
   are the keys, the encoder states): ``(batch, tgt_len, value_size)`` (the "Weighted Sum" layer).

Scores (each a module ``forward(query (B, T, Dq), keys (B, S, Dk)) -> (B, T, S)``):

==============  =====================================  ==========================================
name            score                                   parameters
==============  =====================================  ==========================================
``dot``         ``q . k``                               none (needs Dq == Dk)
``scaled-dot``  ``q . k / sqrt(Dk)``                    none (needs Dq == Dk)
``general``     ``q W k^T``                             ``W`` (Dq, Dk)
``additive``    ``v^T tanh(W_q q + W_k k)``             ``W_q`` (A, Dq), ``W_k`` (A, Dk), ``v`` (A,)
``concat``      Luong's ``v^T tanh(W [q; k])``          the same function as ``additive``
==============  =====================================  ==========================================

Luong's *concat* score is additive attention written with one matrix ``W = [W_q  W_k]``:
``W [q; k] = W_q q + W_k k``. The course therefore builds both names with :class:`AdditiveScore`.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..validate import one_of, positive_int

__all__ = ["masked_softmax", "DotScore", "ScaledDotScore", "GeneralScore", "AdditiveScore", "SCORES", "make_score",
           "LocalWindow", "Attention"]


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Softmax over the last axis, ignoring positions where ``mask`` is False.

    scores: ``(..., n)`` floating-point tensor, no NaN or +inf (``-inf`` is allowed: weight 0).
    mask: bool tensor with as many axes as ``scores``, each of size 1 or the scores' size
    (e.g. ``(batch, 1, src_len)`` for ``(batch, tgt_len, src_len)`` scores); True where
    attention is *allowed* (the convention of ``torch.nn.functional.scaled_dot_product_attention``),
    or None for no mask.
    Returns a tensor shaped like ``scores``: non-negative, each row sums to 1 over its allowed
    positions and is exactly 0 at masked ones. A row with nothing to attend to (every position
    masked, or every allowed score ``-inf``) returns zeros, not NaN, and its gradient is zero
    (not NaN) too: the same rules as the NumPy twin ``utils.scratch.softmax``.

    Why not fill masked scores with the most negative finite number: an allowed score that is
    itself that low would then tie with the masked ones and share the weight with them. Masked
    scores are set to ``-inf`` (weight exactly 0); rows with no finite allowed score, for which
    ``softmax`` would compute ``0 / 0 = NaN``, are set to zeros explicitly.
    """
    if not isinstance(scores, torch.Tensor):
        raise TypeError(f"scores must be a torch.Tensor, got {type(scores).__name__}")
    if not scores.is_floating_point():
        raise TypeError(f"scores must be a floating-point tensor, got dtype {scores.dtype}")
    if scores.dim() == 0:
        raise ValueError("scores must have at least one axis (the one the softmax runs over)")
    if scores.shape[-1] == 0:
        raise ValueError(f"scores has an empty last axis (shape {tuple(scores.shape)}): nothing to attend to")
    bad = torch.isnan(scores) | (scores == float("inf"))
    if bad.any():
        raise ValueError(
            f"scores contain NaN or +inf at {int(bad.sum())} of {scores.numel()} positions: the softmax "
            "of such a row is undefined (check what produced the scores, e.g. an overflow or a NaN input)"
        )
    if mask is None:
        filled = scores
    else:
        if not isinstance(mask, torch.Tensor):
            raise TypeError(f"mask must be a bool torch.Tensor, got {type(mask).__name__}")
        if mask.dtype != torch.bool:
            raise TypeError(
                f"mask must have dtype torch.bool (True = attend), got {mask.dtype}; "
                "use `mask.bool()` or build it with a comparison such as `ids != pad_id`"
            )
        if mask.dim() < scores.dim():
            # A (batch, src_len) mask against (batch, tgt_len, src_len) scores would broadcast
            # silently when batch == tgt_len, masking row t with sequence t's padding: refuse.
            raise ValueError(
                f"mask has {mask.dim()} axes {tuple(mask.shape)} but scores have {scores.dim()} "
                f"{tuple(scores.shape)}: a mask needs one axis per score axis (it is not broadcast from the "
                "left, which would silently pair the wrong rows); give the mask one axis per score axis, e.g. a "
                "(batch, src_len) "
                "padding mask for (batch, tgt_len, src_len) scores becomes mask.unsqueeze(1), "
                "shape (batch, 1, src_len)"
            )
        try:  # more axes than the scores, or a size that is neither 1 nor the scores' size
            shape = torch.broadcast_shapes(mask.shape, scores.shape)
        except RuntimeError:
            shape = None
        if shape != scores.shape:
            raise ValueError(
                f"mask of shape {tuple(mask.shape)} does not broadcast to scores of shape "
                f"{tuple(scores.shape)} (each mask axis must be 1 or the scores' size; a padding mask "
                "for (batch, tgt_len, src_len) scores is usually (batch, 1, src_len))"
            )
        filled = scores.masked_fill(~mask, float("-inf"))  # masked: exp(-inf) = exactly 0
    # Rows with no finite allowed score: softmax would give 0/0 = NaN. Give them zeros
    # instead (filled with 0 first so that neither the softmax nor its gradient is NaN).
    dead = torch.isneginf(filled).all(dim=-1, keepdim=True)  # (..., 1)
    weights = torch.softmax(filled.masked_fill(dead, 0.0), dim=-1)
    if mask is not None:
        weights = weights * mask
    return weights.masked_fill(dead, 0.0)


def _check_query_keys(query: torch.Tensor, keys: torch.Tensor, query_size: int, key_size: int, name: str) -> None:
    if not isinstance(query, torch.Tensor) or not isinstance(keys, torch.Tensor):
        raise TypeError(f"{name}: query and keys must be torch tensors")
    if query.dim() != 3 or keys.dim() != 3:
        raise ValueError(f"{name} expects query (batch, tgt_len, {query_size}) and keys (batch, src_len, {key_size}), "
                         f"got shapes {tuple(query.shape)} and {tuple(keys.shape)}")
    if query.shape[0] != keys.shape[0]:
        raise ValueError(f"{name}: query {tuple(query.shape)} and keys {tuple(keys.shape)} differ in batch size")
    if query.shape[2] != query_size or keys.shape[2] != key_size:
        raise ValueError(f"{name} was built for query size {query_size} and key size {key_size}, got query "
                         f"{tuple(query.shape)} and keys {tuple(keys.shape)}")


class DotScore(nn.Module):
    """``e_tj = q_t . k_j``: no parameters, so query and key must have the same size.

    forward(query (batch, tgt_len, D), keys (batch, src_len, D)) -> (batch, tgt_len, src_len).
    """

    def __init__(self, query_size: int, key_size: int | None = None):
        super().__init__()
        key_size = query_size if key_size is None else key_size
        self.query_size, self.key_size = positive_int("query_size", query_size), positive_int("key_size", key_size)
        if query_size != key_size:
            raise ValueError(
                f"{type(self).__name__} needs queries and keys of one size, got query size {query_size} and key "
                f"size {key_size} (a bidirectional encoder's keys have 2 x hidden): use the 'general' or "
                "'additive' score, which learn a map between the two sizes, or give each encoder direction half "
                "the decoder's size (encoder_hidden_size)"
            )

    def forward(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        _check_query_keys(query, keys, self.query_size, self.key_size, type(self).__name__)
        return torch.bmm(query, keys.transpose(1, 2))  # (batch, tgt_len, src_len)


class ScaledDotScore(DotScore):
    """``e_tj = q_t . k_j / sqrt(D)``: the dot score with its variance kept near 1 for any D.

    For query and key entries with mean 0 and variance 1, ``q . k`` sums D products and has
    variance D; dividing by sqrt(D) keeps the softmax out of its saturated, one-hot regime.
    """

    def forward(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        return super().forward(query, keys) / math.sqrt(self.key_size)  # (batch, tgt_len, src_len)


class GeneralScore(nn.Module):
    """Luong's general score ``e_tj = q_t W k_j^T``; ``W`` (query_size, key_size) is learned.

    The keys are mapped once, ``K W^T`` (batch, src_len, query_size), then dotted with each query.
    """

    def __init__(self, query_size: int, key_size: int):
        super().__init__()
        self.query_size, self.key_size = positive_int("query_size", query_size), positive_int("key_size", key_size)
        self.W = nn.Linear(key_size, query_size, bias=False)  # weight (query_size, key_size) = W

    def forward(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        _check_query_keys(query, keys, self.query_size, self.key_size, "GeneralScore")
        return torch.bmm(query, self.W(keys).transpose(1, 2))  # (batch, tgt_len, src_len)


class AdditiveScore(nn.Module):
    """Bahdanau's additive score ``e_tj = v^T tanh(W_q q_t + W_k k_j)`` (also Luong's *concat*).

    ``W_q`` (attn_size, query_size), ``W_k`` (attn_size, key_size) and ``v`` (attn_size,) are
    learned; ``attn_size`` defaults to the query size. The keys are projected once per source,
    then broadcast against every query: the sum is (batch, tgt_len, src_len, attn_size).
    """

    def __init__(self, query_size: int, key_size: int, attn_size: int | None = None):
        super().__init__()
        attn_size = query_size if attn_size is None else attn_size
        self.query_size, self.key_size = positive_int("query_size", query_size), positive_int("key_size", key_size)
        self.attn_size = positive_int("attn_size", attn_size)
        self.W_q = nn.Linear(query_size, attn_size, bias=False)
        self.W_k = nn.Linear(key_size, attn_size, bias=True)  # one bias for the sum (Bahdanau's b)
        self.v = nn.Linear(attn_size, 1, bias=False)

    def forward(self, query: torch.Tensor, keys: torch.Tensor,
                projected_keys: torch.Tensor | None = None) -> torch.Tensor:
        """projected_keys: ``W_k(keys)`` (batch, src_len, attn_size) if already computed: a decoder that
        attends one step at a time (Bahdanau's) projects its keys once per source, not once per step."""
        _check_query_keys(query, keys, self.query_size, self.key_size, "AdditiveScore")
        if projected_keys is None:
            projected_keys = self.W_k(keys)  # (batch, src_len, attn)
        hidden = torch.tanh(self.W_q(query).unsqueeze(2) + projected_keys.unsqueeze(1))  # (batch, tgt, src, attn)
        return self.v(hidden).squeeze(-1)  # (batch, tgt_len, src_len)


#: Score modules by name; ``make_score(name, query_size, key_size)`` builds one.
SCORES: dict[str, type[nn.Module]] = {
    "dot": DotScore, "scaled-dot": ScaledDotScore, "general": GeneralScore, "additive": AdditiveScore,
    "concat": AdditiveScore,
}


def make_score(name: str, query_size: int, key_size: int, attn_size: int | None = None) -> nn.Module:
    """Build the score called ``name`` (a key of :data:`SCORES`) for the given sizes."""
    if not isinstance(name, str):
        raise TypeError(f"score must be a name such as 'dot', got {type(name).__name__}: {name!r}")
    one_of("score", name, SCORES)
    if SCORES[name] is AdditiveScore:
        return AdditiveScore(query_size, key_size, attn_size)
    return SCORES[name](query_size, key_size)


class LocalWindow(nn.Module):
    """Luong's local attention: only a window of ``2D + 1`` source positions around ``p_t``.

    kind ``"local-m"`` (monotonic): ``p_t = t``, the output step's own index.
    kind ``"local-p"`` (predictive): ``p_t = S * sigmoid(v_p^T tanh(W_p q_t))`` with ``S`` the
    source's length, learned; inside the window the weights are also multiplied by a Gaussian
    ``exp(-(j - p_t)^2 / (2 sigma^2))``, ``sigma = D / 2``, which favours positions near p_t and
    lets the gradient reach ``W_p`` and ``v_p`` (the window's edges alone have no gradient).
    (Luong et al. use the source length minus one; positions here are 0-based, ``p_t`` in [0, S - 1].)

    forward(query (B, T, Dq), src_lengths (B,), steps (T,) long: the output positions t)
    -> (window (B, T, S) bool, factor (B, T, S) float or None). Global attention (dot or any
    other score without a window) looks at *every* source position, not at 2D + 1 of them.
    """

    def __init__(self, kind: str, D: int, query_size: int, src_len_hint: int | None = None):
        super().__init__()
        self.kind = one_of("window", kind, ("local-m", "local-p"))
        self.D = positive_int("window_size D", D)
        if kind == "local-p":
            self.W_p = nn.Linear(positive_int("query_size", query_size), query_size, bias=False)
            self.v_p = nn.Linear(query_size, 1, bias=False)

    def centres(self, query: torch.Tensor, src_lengths: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
        """p_t for every query: (batch, tgt_len) float."""
        last = (src_lengths.to(query.dtype) - 1).unsqueeze(1)  # (batch, 1): the last real position
        if self.kind == "local-m":
            return torch.minimum(steps.to(query.dtype).unsqueeze(0), last).expand(query.shape[0], -1)
        gate = torch.sigmoid(self.v_p(torch.tanh(self.W_p(query)))).squeeze(-1)  # (batch, tgt_len) in (0, 1)
        return last * gate

    def forward(self, query: torch.Tensor, src_lengths: torch.Tensor, steps: torch.Tensor, src_len: int):
        p = self.centres(query, src_lengths, steps)  # (batch, tgt_len)
        j = torch.arange(src_len, device=query.device, dtype=query.dtype)  # (src_len,)
        distance = j.view(1, 1, -1) - p.unsqueeze(-1)  # (batch, tgt_len, src_len)
        # local-m: integer centres, so |j - p| <= D is exactly 2D + 1 positions; local-p: the
        # positions within D of the real-valued centre (Luong: [p_t - D, p_t + D]).
        window = distance.abs() <= self.D
        factor = None
        if self.kind == "local-p":
            sigma = self.D / 2
            factor = torch.exp(-distance.pow(2) / (2 * sigma**2))  # (batch, tgt_len, src_len)
        return window, factor


class Attention(nn.Module):
    """One attention layer: score, masked softmax, weighted sum (optionally local).

    forward(query (batch, tgt_len, Dq), keys (batch, src_len, Dk), values=None (batch, src_len, Dv;
    default: the keys), mask=None, src_lengths=None, steps=None) -> (context (batch, tgt_len, Dv),
    weights (batch, tgt_len, src_len)).

    mask: a (batch, src_len) padding mask (True at real tokens) or a bool tensor with one axis per
    score axis broadcastable to (batch, tgt_len, src_len) (True = may attend).
    A local window needs ``src_lengths`` (batch,) and ``steps`` (tgt_len,), the output positions.
    projected_keys: for the additive score only, its ``W_k(keys)`` if the caller already has it.
    """

    def __init__(self, score: nn.Module, window: LocalWindow | None = None):
        super().__init__()
        if not isinstance(score, nn.Module):
            raise TypeError(f"score must be a score module (e.g. utils.nn.DotScore), got {type(score).__name__}")
        self.score = score
        self.window = window

    def forward(self, query, keys, values=None, mask=None, src_lengths=None, steps=None, projected_keys=None):
        values = keys if values is None else values
        if values.dim() != 3 or values.shape[:2] != keys.shape[:2]:
            raise ValueError(f"values {tuple(values.shape)} must be (batch, src_len, value_size) with the keys' "
                             f"batch and src_len {tuple(keys.shape[:2])}")
        if projected_keys is not None:  # the additive score's W_k(keys), computed once by the caller
            scores = self.score(query, keys, projected_keys=projected_keys)  # (batch, tgt_len, src_len)
        else:
            scores = self.score(query, keys)  # (batch, tgt_len, src_len)
        if mask is not None and isinstance(mask, torch.Tensor) and mask.dim() == 2:
            if tuple(mask.shape) != tuple(keys.shape[:2]):
                raise ValueError(f"a 2-axis mask must be the (batch, src_len) padding mask {tuple(keys.shape[:2])}, "
                                 f"got {tuple(mask.shape)}")
            mask = mask.unsqueeze(1)  # (batch, 1, src_len): the same source mask for every step t
        factor = None
        if self.window is not None:
            if src_lengths is None or steps is None:
                raise ValueError("local attention needs src_lengths (batch,) and steps (tgt_len,)")
            window, factor = self.window(query, src_lengths, steps, keys.shape[1])  # (batch, tgt_len, src_len)
            mask = window if mask is None else mask & window
        weights = masked_softmax(scores, mask)  # (batch, tgt_len, src_len)
        if factor is not None:
            weights = weights * factor  # Luong's local-p: the Gaussian multiplies the softmax
        context = torch.bmm(weights, values)  # (batch, tgt_len, value_size)
        return context, weights



"""Attention in PyTorch: the masked softmax, score functions and attention layers.

Every attention layer here does the same three things (chapter 03's two textbook layers):

1. **scores** ``e_tj = score(s_t, h_j)`` between each decoder state ``s_t`` (the *query*) and
   each encoder state ``h_j``: ``(batch, tgt_len, src_len)``;
2. **attention weights** ``a_tj = softmax_j(e_tj)``, computed by :func:`masked_softmax` so that
   padded source positions get weight exactly 0 (the "Attention Weight" layer);
3. **context** ``c_t = sum_j a_tj h_j``: ``(batch, tgt_len, hidden)`` (the "Weighted Sum"
   layer).

Layers are looked up by name in :data:`ATTENTIONS` (``make_attention("dot", hidden_size)``),
so a model is built with ``attention="dot"`` and later chapters add their own variants
(``"bahdanau"``, ``"luong"``, ...) by adding an entry.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["masked_softmax", "dot_score", "DotAttention", "ATTENTIONS", "make_attention"]


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
    (not NaN) too: the same rules as the NumPy twin ``utils.softmax_np``.

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
                "left, which would silently pair the wrong rows); give the mask one axis per score axis, e.g. a (batch, src_len) "
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


def dot_score(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """Dot-product scores ``e_tj = s_t . h_j``.

    queries: ``(batch, tgt_len, hidden)`` decoder states; keys: ``(batch, src_len, hidden)``
    encoder states. Returns ``(batch, tgt_len, src_len)``.
    """
    if queries.dim() != 3 or keys.dim() != 3:
        raise ValueError(
            f"dot_score expects queries (batch, tgt_len, hidden) and keys (batch, src_len, hidden), "
            f"got shapes {tuple(queries.shape)} and {tuple(keys.shape)}"
        )
    if queries.shape[0] != keys.shape[0] or queries.shape[2] != keys.shape[2]:
        raise ValueError(
            f"queries {tuple(queries.shape)} and keys {tuple(keys.shape)} must agree on batch "
            "size and hidden size (dot attention needs decoder and encoder states of one size)"
        )
    return torch.bmm(queries, keys.transpose(1, 2))  # (batch, tgt_len, src_len)


class DotAttention(nn.Module):
    """Global dot-product attention (no parameters): every source position is scored.

    ``forward(queries, keys, mask)`` with queries ``(batch, tgt_len, hidden)`` (the decoder
    states s_t), keys ``(batch, src_len, hidden)`` (the encoder states h_j, which are also the
    values here) and mask ``(batch, src_len)`` bool, True at real tokens, False at padding.
    Returns ``(context, weights)``: ``(batch, tgt_len, hidden)`` and
    ``(batch, tgt_len, src_len)``.
    """

    def __init__(self, hidden_size: int | None = None):
        super().__init__()
        self.hidden_size = hidden_size

    def score(self, queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        return dot_score(queries, keys)

    def forward(self, queries: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor | None = None):
        scores = self.score(queries, keys)  # (batch, tgt_len, src_len)
        if mask is not None:
            if mask.dim() != 2 or mask.shape != (keys.shape[0], keys.shape[1]):
                raise ValueError(
                    f"mask must be (batch, src_len) = {(keys.shape[0], keys.shape[1])}, got {tuple(mask.shape)}"
                )
            mask = mask.unsqueeze(1)  # (batch, 1, src_len): the same source mask for every step t
        weights = masked_softmax(scores, mask)  # (batch, tgt_len, src_len)
        context = torch.bmm(weights, keys)  # (batch, tgt_len, hidden)
        return context, weights


#: Attention layers by name. A model built with ``attention=name`` calls
#: ``ATTENTIONS[name](hidden_size)``; later chapters register their variants here.
ATTENTIONS: dict[str, type[nn.Module]] = {"dot": DotAttention}


def make_attention(name: str, hidden_size: int) -> nn.Module:
    """Build the attention layer called ``name`` (a key of :data:`ATTENTIONS`)."""
    if not isinstance(name, str):
        raise TypeError(f"attention must be None or a name such as 'dot', got {name!r}")
    if name not in ATTENTIONS:
        raise ValueError(f"unknown attention {name!r}; known: {sorted(ATTENTIONS)} (or None for none)")
    return ATTENTIONS[name](hidden_size)

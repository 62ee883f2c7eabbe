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

    scores: ``(..., n)`` floating-point tensor.
    mask: bool tensor broadcastable to ``scores``; True where attention is *allowed* (the
    convention of ``torch.nn.functional.scaled_dot_product_attention``), or None for no mask.
    Returns a tensor shaped like ``scores``: non-negative, each row sums to 1 over its allowed
    positions and is exactly 0 at masked ones. A row whose positions are all masked returns
    zeros (not NaN), and its gradient is zero (not NaN) too.

    Why not ``scores.masked_fill(~mask, -inf)``: a fully masked row would then be
    ``exp(-inf) / sum(exp(-inf)) = 0 / 0 = NaN``. Filling with the most negative *finite*
    number makes masked entries underflow to exactly 0 in any row that has an allowed
    position; multiplying by the mask afterwards zeroes the rows that have none.
    """
    if not isinstance(scores, torch.Tensor):
        raise TypeError(f"scores must be a torch.Tensor, got {type(scores).__name__}")
    if not scores.is_floating_point():
        raise TypeError(f"scores must be a floating-point tensor, got dtype {scores.dtype}")
    if scores.dim() == 0:
        raise ValueError("scores must have at least one axis (the one the softmax runs over)")
    if scores.shape[-1] == 0:
        raise ValueError(f"scores has an empty last axis (shape {tuple(scores.shape)}): nothing to attend to")
    if mask is None:
        return torch.softmax(scores, dim=-1)
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"mask must be a bool torch.Tensor, got {type(mask).__name__}")
    if mask.dtype != torch.bool:
        raise TypeError(
            f"mask must have dtype torch.bool (True = attend), got {mask.dtype}; "
            "use `mask.bool()` or build it with a comparison such as `ids != pad_id`"
        )
    try:
        shape = torch.broadcast_shapes(mask.shape, scores.shape)
    except RuntimeError:
        shape = None
    if shape != scores.shape:
        raise ValueError(
            f"mask of shape {tuple(mask.shape)} does not broadcast to scores of shape "
            f"{tuple(scores.shape)} (a padding mask for (batch, tgt_len, src_len) scores is "
            "usually (batch, 1, src_len))"
        )
    lowest = torch.finfo(scores.dtype).min
    filled = scores.masked_fill(~mask, lowest)
    weights = torch.softmax(filled, dim=-1)
    return weights * mask  # zero the rows with no allowed position


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

"""utils.attention: masked softmax, dot scores, the dot attention layer."""
import pytest
import torch
import torch.nn.functional as F

from utils.attention import ATTENTIONS, DotAttention, dot_score, make_attention, masked_softmax


def test_masked_softmax_without_mask_is_softmax():
    scores = torch.randn(2, 3, 5, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(masked_softmax(scores, None), torch.softmax(scores, -1))
    torch.testing.assert_close(masked_softmax(scores, torch.ones(5, dtype=torch.bool)), torch.softmax(scores, -1))


def test_masked_softmax_matches_softmax_over_allowed_positions():
    g = torch.Generator().manual_seed(1)
    scores = torch.randn(4, 6, generator=g, dtype=torch.float64)
    mask = torch.rand(4, 6, generator=g) > 0.4
    mask[:, 0] = True  # every row has at least one allowed position
    got = masked_softmax(scores, mask)
    assert (got[~mask] == 0).all()
    for row in range(4):
        allowed = mask[row]
        torch.testing.assert_close(got[row, allowed], torch.softmax(scores[row, allowed], -1))
    torch.testing.assert_close(got.sum(-1), torch.ones(4, dtype=torch.float64))


def test_masked_softmax_agrees_with_scaled_dot_product_attention():
    """Same mask convention as torch: True = may attend."""
    g = torch.Generator().manual_seed(2)
    q, k, v = (torch.randn(2, 3, 4, generator=g) for _ in range(3))
    mask = torch.tensor([[True, True, False, False], [True, True, True, False]])[:, None, :]  # (2, 1, 4)
    k, v = torch.randn(2, 4, 4, generator=g), torch.randn(2, 4, 4, generator=g)
    weights = masked_softmax(q @ k.transpose(1, 2) / 2.0, mask)  # scale 1/sqrt(4)
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(weights @ v, expected)


def test_fully_masked_row_gives_zeros_and_finite_gradient():
    scores = torch.randn(2, 3, requires_grad=True)
    mask = torch.tensor([[False, False, False], [True, False, True]])
    weights = masked_softmax(scores, mask)
    assert torch.equal(weights[0], torch.zeros(3))
    assert not torch.isnan(weights).any()
    (weights * torch.arange(3.0)).sum().backward()
    assert torch.isfinite(scores.grad).all()
    assert torch.equal(scores.grad[0], torch.zeros(3))


def test_masked_softmax_half_precision_and_extreme_scores():
    scores = torch.tensor([[1e4, -1e4, 0.0]], dtype=torch.float16)
    w = masked_softmax(scores, torch.tensor([[False, True, True]]))
    assert torch.isfinite(w).all() and w[0, 0] == 0
    torch.testing.assert_close(w.sum(), torch.tensor(1.0, dtype=torch.float16))


def test_masked_softmax_clear_errors():
    scores = torch.zeros(2, 3)
    with pytest.raises(TypeError, match="bool"):
        masked_softmax(scores, torch.ones(2, 3))  # float mask
    with pytest.raises(TypeError, match="bool"):
        masked_softmax(scores, torch.ones(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="broadcast"):
        masked_softmax(scores, torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="broadcast"):  # broadcastable but would grow the result
        masked_softmax(scores, torch.ones(5, 2, 3, dtype=torch.bool))
    with pytest.raises(TypeError, match="floating-point"):
        masked_softmax(torch.zeros(2, 3, dtype=torch.long), None)
    with pytest.raises(TypeError, match="torch.Tensor"):
        masked_softmax([[0.0, 1.0]], None)
    with pytest.raises(ValueError, match="empty"):
        masked_softmax(torch.zeros(2, 0), None)


def test_dot_score_and_errors():
    q = torch.randn(2, 3, 4)
    k = torch.randn(2, 5, 4)
    scores = dot_score(q, k)
    assert scores.shape == (2, 3, 5)
    torch.testing.assert_close(scores[1, 2, 4], q[1, 2] @ k[1, 4])
    with pytest.raises(ValueError, match="hidden size"):
        dot_score(q, torch.randn(2, 5, 3))
    with pytest.raises(ValueError, match="hidden"):
        dot_score(q[0], k)


def test_dot_attention_ignores_padding():
    """Adding pad positions (any values) to the source changes neither context nor weights."""
    g = torch.Generator().manual_seed(3)
    att = DotAttention()
    q = torch.randn(1, 2, 4, generator=g)
    keys = torch.randn(1, 3, 4, generator=g)
    ctx, w = att(q, keys, torch.ones(1, 3, dtype=torch.bool))
    padded = torch.cat([keys, 100 * torch.randn(1, 4, 4, generator=g)], dim=1)  # 4 junk positions
    mask = torch.tensor([[True] * 3 + [False] * 4])
    ctx_p, w_p = att(q, padded, mask)
    torch.testing.assert_close(ctx_p, ctx)
    torch.testing.assert_close(w_p[..., :3], w)
    assert (w_p[..., 3:] == 0).all()
    with pytest.raises(ValueError, match="mask must be"):
        att(q, padded, mask[:, :3])


def test_registry():
    assert "dot" in ATTENTIONS
    assert isinstance(make_attention("dot", 8), DotAttention)
    with pytest.raises(ValueError, match="unknown attention"):
        make_attention("dott", 8)
    with pytest.raises(TypeError):
        make_attention(True, 8)

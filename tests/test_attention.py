"""utils.nn.attention: masked softmax, dot scores, the dot attention layer."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from utils.nn.attention import ATTENTIONS, DotAttention, dot_score, make_attention, masked_softmax
from utils.scratch.attention import softmax_np


def test_masked_softmax_without_mask_is_softmax():
    scores = torch.randn(2, 3, 5, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(masked_softmax(scores, None), torch.softmax(scores, -1))
    torch.testing.assert_close(masked_softmax(scores, torch.ones(1, 1, 5, dtype=torch.bool)), torch.softmax(scores, -1))


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
    with pytest.raises(ValueError, match="axes"):  # fewer axes than the scores, even if it would broadcast
        masked_softmax(torch.zeros(2, 3, 5), torch.ones(5, dtype=torch.bool))


def test_masked_softmax_refuses_a_padding_mask_without_its_query_axis():
    """(batch, src_len) against (batch, tgt_len, src_len) scores broadcasts when batch == tgt_len,
    and would then mask output row t with sequence t's padding: it must be an error."""
    scores = torch.zeros(3, 3, 4)  # batch 3, tgt_len 3, src_len 4
    mask = torch.tensor([[True, True, True, True], [True, True, False, False], [True, False, False, False]])
    with pytest.raises(ValueError, match=r"unsqueeze\(1\)"):
        masked_softmax(scores, mask)
    weights = masked_softmax(scores, mask.unsqueeze(1))  # (batch, 1, src_len): the right way
    torch.testing.assert_close(weights[1], torch.tensor([[0.5, 0.5, 0.0, 0.0]] * 3))


@pytest.mark.parametrize("bad", [float("nan"), float("inf")], ids=["nan", "plus-inf"])
@pytest.mark.parametrize("masked", [False, True], ids=["allowed", "masked-position"])
def test_masked_softmax_rejects_nan_and_plus_inf(bad, masked):
    scores = torch.tensor([[0.5, bad, 1.0]])
    mask = torch.tensor([[True, not masked, True]])
    with pytest.raises(ValueError, match=r"NaN or \+inf"):
        masked_softmax(scores, mask)
    with pytest.raises(ValueError, match=r"NaN or \+inf"):
        masked_softmax(scores, None)


def test_masked_softmax_all_minus_inf_allowed_row_gives_zeros():
    """Like utils.softmax_np: -inf scores get weight 0, and a row with nothing finite gets zeros."""
    inf = float("inf")
    scores = torch.tensor([[-inf, -inf, -inf], [-inf, 0.0, -inf], [-inf, -inf, 2.0]], requires_grad=True)
    mask = torch.tensor([[True, True, False], [True, True, True], [True, True, False]])  # row 2: allowed all -inf
    weights = masked_softmax(scores, mask)
    expected = torch.tensor([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    assert torch.equal(weights.detach(), expected)
    np.testing.assert_array_equal(weights.detach().numpy(), softmax_np(scores.detach().numpy(), mask.numpy()))
    assert torch.equal(masked_softmax(scores[:1].detach(), None), torch.zeros(1, 3))  # no mask either
    (weights * torch.arange(3.0)).sum().backward()
    assert torch.isfinite(scores.grad).all()


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64])
def test_masked_softmax_lowest_finite_score_next_to_a_masked_one(dtype):
    """An allowed score at finfo.min must not share its weight with masked positions."""
    scores = torch.tensor([[torch.finfo(dtype).min, 3.0]], dtype=dtype)
    weights = masked_softmax(scores, torch.tensor([[True, False]]))
    assert weights.tolist() == [[1.0, 0.0]]


def test_masked_softmax_matches_numpy_twin_with_minus_inf():
    g = torch.Generator().manual_seed(4)
    scores = torch.randn(5, 6, generator=g, dtype=torch.float64)
    scores[scores < -0.8] = float("-inf")
    mask = torch.rand(5, 6, generator=g) > 0.3
    mask[4] = False
    np.testing.assert_allclose(masked_softmax(scores, mask).numpy(), softmax_np(scores.numpy(), mask.numpy()),
                               atol=1e-12)


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

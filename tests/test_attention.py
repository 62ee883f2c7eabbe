"""utils.nn.attention: masked softmax, the scores, local windows, the attention layer."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from utils.nn.attention import (
    SCORES,
    AdditiveScore,
    Attention,
    DotScore,
    GeneralScore,
    LocalWindow,
    ScaledDotScore,
    make_score,
    masked_softmax,
)
from utils.scratch.attention import softmax as softmax_np


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
    """Like utils.scratch.softmax: -inf scores get weight 0, and a row with nothing finite gets zeros."""
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


def test_each_score_computes_its_formula():
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(2, 3, 4, generator=g), torch.randn(2, 5, 6, generator=g)
    k4 = k[..., :4]
    dot = DotScore(4)(q, k4)
    torch.testing.assert_close(dot[1, 2, 4], q[1, 2] @ k4[1, 4])
    torch.testing.assert_close(ScaledDotScore(4)(q, k4), dot / 2.0)
    general = GeneralScore(4, 6)
    W = general.W.weight  # (query_size, key_size)
    torch.testing.assert_close(general(q, k)[1, 2, 4], q[1, 2] @ W @ k[1, 4])
    additive = AdditiveScore(4, 6, attn_size=7)
    expected = additive.v.weight[0] @ torch.tanh(additive.W_q.weight @ q[0, 1] + additive.W_k.weight @ k[0, 3]
                                                 + additive.W_k.bias)
    torch.testing.assert_close(additive(q, k)[0, 1, 3], expected)
    assert additive(q, k).shape == general(q, k).shape == (2, 3, 5)


def test_concat_is_additive_and_every_name_builds():
    assert SCORES["concat"] is AdditiveScore
    for name in SCORES:
        score = make_score(name, 8, 8)
        assert score(torch.randn(1, 2, 8), torch.randn(1, 3, 8)).shape == (1, 2, 3)
    with pytest.raises(ValueError, match="one of"):
        make_score("dott", 8, 8)
    with pytest.raises(TypeError, match="name"):
        make_score(None, 8, 8)


def test_dot_score_refuses_different_sizes_and_says_what_to_use():
    with pytest.raises(ValueError, match="general"):
        DotScore(4, 8)
    with pytest.raises(ValueError, match="key size 4"):
        DotScore(4)(torch.randn(2, 3, 4), torch.randn(2, 5, 3))
    with pytest.raises(ValueError, match="batch"):
        DotScore(4)(torch.randn(2, 3, 4), torch.randn(3, 5, 4))
    with pytest.raises(ValueError, match="tgt_len"):
        DotScore(4)(torch.randn(3, 4), torch.randn(2, 5, 4))


def test_scaled_dot_keeps_score_variance_near_one():
    g = torch.Generator().manual_seed(0)
    for d in (4, 64, 512):
        q, k = torch.randn(64, 1, d, generator=g), torch.randn(64, 200, d, generator=g)
        assert DotScore(d)(q, k).var().item() == pytest.approx(d, rel=0.15)
        assert ScaledDotScore(d)(q, k).var().item() == pytest.approx(1.0, rel=0.15)


@pytest.mark.parametrize("score", ["dot", "general", "additive"])
def test_attention_ignores_padding(score):
    """Adding pad positions (any values) to the source changes neither context nor weights."""
    g = torch.Generator().manual_seed(3)
    torch.manual_seed(0)
    att = Attention(make_score(score, 4, 4))
    q = torch.randn(1, 2, 4, generator=g)
    keys = torch.randn(1, 3, 4, generator=g)
    ctx, w = att(q, keys, mask=torch.ones(1, 3, dtype=torch.bool))
    padded = torch.cat([keys, 100 * torch.randn(1, 4, 4, generator=g)], dim=1)  # 4 junk positions
    mask = torch.tensor([[True] * 3 + [False] * 4])
    ctx_p, w_p = att(q, padded, mask=mask)
    torch.testing.assert_close(ctx_p, ctx)
    torch.testing.assert_close(w_p[..., :3], w)
    assert (w_p[..., 3:] == 0).all()
    with pytest.raises(ValueError, match="padding mask"):
        att(q, padded, mask=mask[:, :3])


def test_attention_with_values_different_from_keys():
    g = torch.Generator().manual_seed(0)
    q, keys = torch.randn(2, 3, 4, generator=g), torch.randn(2, 5, 4, generator=g)
    values = torch.randn(2, 5, 7, generator=g)
    ctx, w = Attention(DotScore(4))(q, keys, values)
    assert ctx.shape == (2, 3, 7)
    torch.testing.assert_close(ctx, w @ values)
    torch.testing.assert_close(w, torch.softmax(q @ keys.transpose(1, 2), -1))
    with pytest.raises(ValueError, match="values"):
        Attention(DotScore(4))(q, keys, values[:, :4])
    with pytest.raises(TypeError, match="score module"):
        Attention("dot")


def test_attention_takes_a_full_mask_per_step():
    q, keys = torch.randn(1, 2, 4), torch.randn(1, 3, 4)
    mask = torch.tensor([[[True, False, False], [True, True, False]]])  # (batch, tgt, src): causal-like
    _, w = Attention(DotScore(4))(q, keys, mask=mask)
    assert (w[0, 0, 1:] == 0).all() and w[0, 0, 0] == 1 and (w[0, 1, 2] == 0)


def test_local_m_window_is_2D_plus_1_positions_around_t():
    torch.manual_seed(0)
    S, T, D = 12, 9, 2
    att = Attention(GeneralScore(4, 4), LocalWindow("local-m", D, 4))
    q, keys = torch.randn(2, T, 4), torch.randn(2, S, 4)
    lengths = torch.tensor([S, 6])
    mask = torch.arange(S).unsqueeze(0) < lengths.unsqueeze(1)
    _, w = att(q, keys, mask=mask, src_lengths=lengths, steps=torch.arange(T))
    for t in range(T):
        allowed = [j for j in range(S) if abs(j - t) <= D]
        assert (w[0, t, [j for j in range(S) if j not in allowed]] == 0).all()
        assert (w[0, t, allowed] > 0).all() and len(allowed) <= 2 * D + 1
    # Past the short source's end the centre stays at its last position: weights never on padding.
    assert (w[1, :, 6:] == 0).all()
    torch.testing.assert_close(w.sum(-1), torch.ones(2, T))
    with pytest.raises(ValueError, match="src_lengths"):
        att(q, keys, mask=mask)


def test_local_p_window_moves_with_p_t_and_trains_W_p():
    torch.manual_seed(0)
    D, S = 2, 20
    window = LocalWindow("local-p", D, 4)
    att = Attention(GeneralScore(4, 4), window)
    q, keys = torch.randn(1, 6, 4), torch.randn(1, S, 4)
    lengths = torch.tensor([S])
    _, w = att(q, keys, src_lengths=lengths, steps=torch.arange(6))
    p = window.centres(q, lengths, torch.arange(6))[0]  # (6,)
    assert (p >= 0).all() and (p <= S - 1).all()
    for t in range(6):
        outside = (torch.arange(S).float() - p[t]).abs() > D
        assert (w[0, t, outside] == 0).all() and (w[0, t, ~outside] > 0).all()
        # the Gaussian multiplies the softmax, so the window's weights sum to less than 1
        assert w[0, t].sum() < 1
    w.sum().backward()  # the Gaussian lets the gradient reach the layer that predicts p_t
    assert window.W_p.weight.grad is not None and window.W_p.weight.grad.abs().sum() > 0
    assert window.v_p.weight.grad.abs().sum() > 0
    # Change the predictor and the window moves with p_t.
    with torch.no_grad():
        window.v_p.weight.mul_(-3.0)
        _, w_moved = att(q, keys, src_lengths=lengths, steps=torch.arange(6))
        p_moved = window.centres(q, lengths, torch.arange(6))[0]
    assert (p_moved - p).abs().max() > 1
    t = int((p_moved - p).abs().argmax())
    assert ((w_moved[0, t] > 0) != (w[0, t] > 0)).any()
    with pytest.raises(ValueError, match="one of"):
        LocalWindow("local-x", 2, 4)


def test_additive_score_with_precomputed_key_projection_is_the_same_score():
    torch.manual_seed(0)
    score = AdditiveScore(4, 6, attn_size=5)
    q, k = torch.randn(2, 3, 4), torch.randn(2, 7, 6)
    torch.testing.assert_close(score(q, k, projected_keys=score.W_k(k)), score(q, k))
    attention = Attention(score)
    ctx, w = attention(q, k, projected_keys=score.W_k(k))
    ctx_ref, w_ref = attention(q, k)
    torch.testing.assert_close(ctx, ctx_ref)
    torch.testing.assert_close(w, w_ref)

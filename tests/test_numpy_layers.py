"""Tests of the textbook attention layers in NumPy (utils/scratch/attention.py).

Forward values, masking, hand-written backward passes against numerical gradients, parity with
torch autograd, and clear errors on bad input.
"""
import numpy as np
import pytest
import torch

from utils.nn.attention import Attention as TorchAttention
from utils.nn.attention import DotScore, masked_softmax
from utils.scratch.attention import Attention, AttentionWeight, TimeAttention, WeightedSum, softmax
from utils.scratch.gradcheck import check_layer

BATCH, SRC_LEN, TGT_LEN, HIDDEN = 3, 5, 4, 6


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def states(rng):
    hs = rng.standard_normal((BATCH, SRC_LEN, HIDDEN))  # (batch, src_len, hidden)
    s = rng.standard_normal((BATCH, HIDDEN))  # (batch, hidden)
    return hs, s


@pytest.fixture
def mask():
    mask = np.ones((BATCH, SRC_LEN), dtype=bool)
    mask[1, 3:] = False  # a shorter source padded to SRC_LEN
    mask[2, :] = False  # a fully masked row
    return mask


# --------------------------------------------------------------------------- softmax
def test_softmax_rows_are_probabilities_and_shift_invariant(rng):
    scores = rng.standard_normal((4, 7))
    p = softmax(scores)
    assert p.shape == scores.shape
    assert np.all(p >= 0)
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(softmax(scores + 100.0), p, atol=1e-12)
    naive = np.exp(scores) / np.exp(scores).sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(p, naive, atol=1e-12)


def test_softmax_large_scores_do_not_overflow():
    p = softmax(np.array([[1000.0, 999.0, -1000.0]]))
    assert np.all(np.isfinite(p))
    np.testing.assert_allclose(p[0, :2], [1 / (1 + np.exp(-1)), np.exp(-1) / (1 + np.exp(-1))])


def test_softmax_mask_zeroes_positions_and_full_mask_gives_zeros(rng):
    scores = rng.standard_normal((3, 4))
    mask = np.array([[True, True, False, False], [True, True, True, True], [False] * 4])
    p = softmax(scores, mask)
    assert np.all(p[~mask] == 0)
    np.testing.assert_allclose(p[0, :2], softmax(scores[0, :2]))
    np.testing.assert_allclose(p[1], softmax(scores[1]))
    assert np.array_equal(p[2], np.zeros(4))  # zeros, not NaN


def test_softmax_matches_torch_masked_softmax_convention(rng):
    scores = rng.standard_normal((2, 5))
    mask = np.array([[True, False, True, True, False], [True] * 5])
    expected = torch.softmax(torch.from_numpy(scores).masked_fill(~torch.from_numpy(mask), -torch.inf), -1)
    np.testing.assert_allclose(softmax(scores, mask), expected.numpy(), atol=1e-12)


@pytest.mark.parametrize(
    "scores, mask, error, match",
    [
        (np.array([[1.0, np.nan]]), None, ValueError, "NaN"),
        (np.array([[1.0, np.inf]]), None, ValueError, r"\+inf"),
        (np.zeros((2, 0)), None, ValueError, "non-empty"),
        (np.array([["a", "b"]]), None, TypeError, "real numbers"),
        (np.zeros((2, 3)), np.ones((2, 3)), TypeError, "boolean"),
        (np.zeros((2, 3)), np.ones((3, 2), dtype=bool), ValueError, "shape"),
    ],
)
def test_softmax_bad_input(scores, mask, error, match):
    with pytest.raises(error, match=match):
        softmax(scores, mask)


# --------------------------------------------------------------------------- forward values
def test_attention_weight_hand_example():
    # Two source positions; the decoder state points at the second one.
    hs = np.array([[[1.0, 0.0], [0.0, 2.0]]])  # (1, 2, 2)
    s = np.array([[0.0, 1.0]])  # (1, 2)
    a = AttentionWeight().forward(hs, s)  # scores [0, 2]
    np.testing.assert_allclose(a, [[1 / (1 + np.e**2), np.e**2 / (1 + np.e**2)]])
    c = WeightedSum().forward(hs, a)
    np.testing.assert_allclose(c, a[:, :1] * hs[:, 0] + a[:, 1:] * hs[:, 1])


def test_layers_have_no_parameters():
    for layer in (AttentionWeight(), WeightedSum(), Attention(), TimeAttention()):
        assert layer.params == {} and layer.grads == {}


def test_attention_weights_are_probabilities(states):
    hs, s = states
    a = AttentionWeight().forward(hs, s)
    assert a.shape == (BATCH, SRC_LEN)
    assert np.all(a >= 0)
    np.testing.assert_allclose(a.sum(axis=1), 1.0, atol=1e-12)


def test_attention_equals_weighted_sum_of_attention_weight(states):
    hs, s = states
    layer = Attention()
    c = layer.forward(hs, s)
    assert c.shape == (BATCH, HIDDEN)
    a = AttentionWeight().forward(hs, s)
    np.testing.assert_allclose(layer.attention_weight, a)
    np.testing.assert_allclose(c, np.einsum("bj,bjh->bh", a, hs))


def test_mask_ignores_padding_whatever_its_content(states, mask, rng):
    hs, s = states
    a = AttentionWeight().forward(hs, s, mask)
    assert np.all(a[~mask] == 0)
    np.testing.assert_allclose(a[:2].sum(axis=1), 1.0)
    assert np.array_equal(a[2], np.zeros(SRC_LEN))
    # Changing what sits in the padded positions changes nothing.
    hs_other = hs.copy()
    hs_other[~mask] = rng.standard_normal((int((~mask).sum()), HIDDEN)) * 100
    c1 = Attention().forward(hs, s, mask)
    c2 = Attention().forward(hs_other, s, mask)
    np.testing.assert_allclose(c1, c2)
    # Row 1 equals attention over its 3 real positions alone.
    c_short = Attention().forward(hs[1:2, :3], s[1:2])
    np.testing.assert_allclose(c1[1:2], c_short)


def test_time_attention_is_attention_at_every_step(states, mask, rng):
    hs, _ = states
    hs_dec = rng.standard_normal((BATCH, TGT_LEN, HIDDEN))
    layer = TimeAttention()
    contexts = layer.forward(hs, hs_dec, mask)
    assert contexts.shape == (BATCH, TGT_LEN, HIDDEN)
    assert layer.attention_weights.shape == (BATCH, TGT_LEN, SRC_LEN)
    for t in range(TGT_LEN):
        np.testing.assert_allclose(contexts[:, t], Attention().forward(hs, hs_dec[:, t], mask))
    # A different context vector at every step (not one fixed vector).
    assert np.abs(contexts[0, 0] - contexts[0, 1]).max() > 1e-3


def test_float32_stays_float32(states):
    hs, s = states
    a = AttentionWeight().forward(hs.astype(np.float32), s.astype(np.float32))
    assert a.dtype == np.float32


# --------------------------------------------------------------------------- backward
@pytest.mark.parametrize("use_mask", [False, True])
def test_gradient_checks(states, mask, rng, use_mask):
    hs, s = states
    m = mask if use_mask else None
    a = softmax(rng.standard_normal((BATCH, SRC_LEN)), m)
    hs_dec = rng.standard_normal((BATCH, TGT_LEN, HIDDEN))
    errors = {
        "AttentionWeight": check_layer(AttentionWeight(), hs, s, mask=m),
        "WeightedSum": check_layer(WeightedSum(), hs, a),
        "Attention": check_layer(Attention(), hs, s, mask=m),
        "TimeAttention": check_layer(TimeAttention(), hs, hs_dec, mask=m),
    }
    for name, errs in errors.items():
        assert max(errs.values()) < 1e-6, (name, errs)


def test_masked_positions_get_no_gradient_through_the_scores(states, mask, rng):
    hs, s = states
    layer = AttentionWeight()
    layer.forward(hs, s, mask)
    dhs, ds = layer.backward(rng.standard_normal((BATCH, SRC_LEN)))
    assert np.all(dhs[~mask] == 0)
    assert np.all(ds[2] == 0)  # fully masked row: nothing flows back


@pytest.mark.parametrize("use_mask", [False, True])
def test_numpy_time_attention_matches_torch_dot_attention(states, mask, rng, use_mask):
    """The NumPy layers and utils.nn.attention.Attention with a DotScore agree: forward and gradients."""
    hs, _ = states
    hs_dec = rng.standard_normal((BATCH, TGT_LEN, HIDDEN))
    dcontexts = rng.standard_normal((BATCH, TGT_LEN, HIDDEN))
    layer = TimeAttention()
    contexts = layer.forward(hs, hs_dec, mask if use_mask else None)
    dhs, dhs_dec = layer.backward(dcontexts)

    hs_t = torch.tensor(hs, requires_grad=True)
    dec_t = torch.tensor(hs_dec, requires_grad=True)
    torch_attention = TorchAttention(DotScore(HIDDEN))
    context_t, weights_t = torch_attention(dec_t, hs_t, mask=torch.from_numpy(mask) if use_mask else None)
    (context_t * torch.from_numpy(dcontexts)).sum().backward()
    np.testing.assert_allclose(contexts, context_t.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(layer.attention_weights, weights_t.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(dhs, hs_t.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(dhs_dec, dec_t.grad.numpy(), atol=1e-10)


def test_single_step_layers_match_torch_dot_attention(states, mask, rng):
    hs, s = states
    da = rng.standard_normal((BATCH, SRC_LEN))
    weight_layer = AttentionWeight()
    a = weight_layer.forward(hs, s, mask)
    dhs, ds = weight_layer.backward(da)
    hs_t = torch.tensor(hs, requires_grad=True)
    s_t = torch.tensor(s, requires_grad=True)
    torch_attention = TorchAttention(DotScore(HIDDEN))
    _, a_t = torch_attention(s_t.unsqueeze(1), hs_t, mask=torch.from_numpy(mask))  # a_t: (batch, 1, src_len)
    (a_t.squeeze(1) * torch.from_numpy(da)).sum().backward()
    np.testing.assert_allclose(a, a_t.squeeze(1).detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(dhs, hs_t.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(ds, s_t.grad.numpy(), atol=1e-10)


def test_softmax_matches_utils_masked_softmax(rng, mask):
    scores = rng.standard_normal((BATCH, SRC_LEN))
    expected = masked_softmax(torch.from_numpy(scores), torch.from_numpy(mask))
    np.testing.assert_allclose(softmax(scores, mask), expected.numpy(), atol=1e-12)


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "hs_shape, s_shape, match",
    [
        ((BATCH, SRC_LEN), (BATCH, HIDDEN), r"hs must have shape \(batch, src_len, hidden\)"),
        ((BATCH, SRC_LEN, HIDDEN), (BATCH, 1, HIDDEN), r"s must have shape \(batch, hidden\)"),
        ((BATCH, SRC_LEN, HIDDEN), (BATCH + 1, HIDDEN), "to match hs"),
        ((BATCH, SRC_LEN, HIDDEN), (BATCH, HIDDEN + 1), "to match hs"),
        ((BATCH, 0, HIDDEN), (BATCH, HIDDEN), "must not be empty"),
    ],
)
def test_attention_weight_shape_errors(hs_shape, s_shape, match):
    with pytest.raises(ValueError, match=match):
        AttentionWeight().forward(np.ones(hs_shape), np.ones(s_shape))


def test_weighted_sum_shape_errors():
    with pytest.raises(ValueError, match="a must be"):
        WeightedSum().forward(np.ones((BATCH, SRC_LEN, HIDDEN)), np.ones((BATCH, SRC_LEN + 1)))
    with pytest.raises(ValueError, match="a must have shape"):
        WeightedSum().forward(np.ones((BATCH, SRC_LEN, HIDDEN)), np.ones((BATCH, SRC_LEN, 1)))


def test_time_attention_shape_error():
    with pytest.raises(ValueError, match="hs_dec must be"):
        TimeAttention().forward(np.ones((BATCH, SRC_LEN, HIDDEN)), np.ones((BATCH, TGT_LEN, HIDDEN + 1)))


def test_bad_values_and_types(states):
    hs, s = states
    bad = hs.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        AttentionWeight().forward(bad, s)
    with pytest.raises(TypeError, match="torch tensor"):
        AttentionWeight().forward(torch.from_numpy(hs), s)
    with pytest.raises(TypeError, match="real numbers"):
        AttentionWeight().forward(hs > 0, s)
    with pytest.raises(TypeError, match="boolean"):
        AttentionWeight().forward(hs, s, mask=np.ones((BATCH, SRC_LEN)))
    with pytest.raises(ValueError, match="mask must have shape"):
        AttentionWeight().forward(hs, s, mask=np.ones((BATCH, SRC_LEN + 1), dtype=bool))


def test_backward_errors(states):
    hs, s = states
    for layer in (AttentionWeight(), WeightedSum(), TimeAttention()):
        with pytest.raises(RuntimeError, match="before forward"):
            layer.backward(np.ones((BATCH, SRC_LEN)))
    layer = AttentionWeight()
    layer.forward(hs, s)
    with pytest.raises(ValueError, match="forward output's shape"):
        layer.backward(np.ones((BATCH, SRC_LEN + 1)))
    layer = Attention()
    layer.forward(hs, s)
    with pytest.raises(ValueError, match="forward output's shape"):
        layer.backward(np.ones((BATCH, SRC_LEN)))  # dc must be (batch, hidden)

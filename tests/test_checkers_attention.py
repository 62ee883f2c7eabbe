"""Each chapter-03 checker accepts a correct answer and rejects plausible wrong ones, saying why."""
import numpy as np
import pytest

from utils.checkers.attention import (
    check_attention_weight_backward,
    check_attention_weight_forward,
    check_weighted_sum_backward,
)
from utils.checkers.core import CheckFailed


# ------------------------------------------------------------------ attention_weight_forward
def forward_reference(hs, s, mask=None):
    scores = np.einsum("bjh,bh->bj", hs, s)  # (batch, src_len)
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    row_max = scores.max(axis=1, keepdims=True)
    row_max = np.where(np.isfinite(row_max), row_max, 0.0)
    exp = np.exp(scores - row_max)
    total = exp.sum(axis=1, keepdims=True)
    return np.divide(exp, total, out=np.zeros_like(exp), where=total > 0)


def forward_wrong_axis(hs, s, mask=None):
    scores = np.einsum("bjh,bh->bj", hs, s)
    exp = np.exp(scores - scores.max())
    return exp / exp.sum(axis=0, keepdims=True)  # normalises over the batch


def forward_no_shift(hs, s, mask=None):
    scores = np.einsum("bjh,bh->bj", hs, s)
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    exp = np.exp(scores)
    return exp / exp.sum(axis=1, keepdims=True)


def forward_ignores_mask(hs, s, mask=None):
    return forward_reference(hs, s, None)


def forward_masks_after_softmax(hs, s, mask=None):
    a = forward_reference(hs, s, None)
    return a if mask is None else a * mask  # rows no longer sum to 1


def forward_nan_on_full_mask(hs, s, mask=None):
    scores = np.einsum("bjh,bh->bj", hs, s)
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    exp = np.exp(scores - scores.max(axis=1, keepdims=True))  # -inf - -inf = nan
    return exp / exp.sum(axis=1, keepdims=True)


def forward_raw_scores(hs, s, mask=None):
    return np.einsum("bjh,bh->bj", hs, s)


def forward_large_negative_fill(hs, s, mask=None):
    scores = np.einsum("bjh,bh->bj", hs, s)
    if mask is not None:
        scores = np.where(mask, scores, -1e9)  # right for padding; a fully masked row turns uniform
    exp = np.exp(scores - scores.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def forward_scaled(hs, s, mask=None):
    return forward_reference(hs, s / np.sqrt(hs.shape[2]), mask)  # chapter 04's scaled dot product


def test_forward_checker_accepts_reference(capsys):
    check_attention_weight_forward(forward_reference)
    assert "all 5 cases pass" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, case, hint",
    [
        (forward_wrong_axis, "one example", "over the batch axis"),
        (forward_no_shift, "large scores", "subtract each row's maximum"),
        (forward_ignores_mask, "padding mask", "weight exactly 0"),
        (forward_masks_after_softmax, "padding mask", "must sum to 1"),
        (forward_nan_on_full_mask, "fully masked row", "return zeros"),
        (forward_raw_scores, "one example", "raw scores"),
        (forward_large_negative_fill, "fully masked row", "must give zeros, not a uniform distribution"),
        (forward_scaled, "one example", "divided the scores by sqrt(hidden)"),
    ],
)
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the wrong versions overflow on purpose
def test_forward_checker_rejects_wrong_versions(wrong, case, hint):
    with pytest.raises(CheckFailed) as info:
        check_attention_weight_forward(wrong)
    message = str(info.value)
    assert message.startswith("attention_weight_forward: case '")
    assert case in message and hint in message
    assert "expected" in message and "got" in message


def test_forward_checker_does_not_blame_the_mask_when_only_the_empty_row_is_wrong():
    # -1e9 masks padding correctly; only the row with nothing allowed is wrong, so the hint
    # must not tell the reader to mask (they did).
    with pytest.raises(CheckFailed) as info:
        check_attention_weight_forward(forward_large_negative_fill)
    assert "-inf" not in str(info.value)


def test_forward_checker_reports_not_implemented():
    def todo(hs, s, mask=None):
        raise NotImplementedError

    with pytest.raises(CheckFailed, match="not implemented"):
        check_attention_weight_forward(todo)


# ------------------------------------------------------------------ weighted_sum_backward
def ws_backward_reference(hs, a, dc):
    dhs = a[:, :, None] * dc[:, None, :]
    da = np.einsum("bjh,bh->bj", hs, dc)
    return dhs, da


def ws_backward_swapped(hs, a, dc):
    dhs, da = ws_backward_reference(hs, a, dc)
    return da, dhs


def ws_backward_da_without_dc(hs, a, dc):
    return a[:, :, None] * dc[:, None, :], hs.sum(axis=2)


def ws_backward_dhs_without_a(hs, a, dc):
    return np.broadcast_to(dc[:, None, :], hs.shape).copy(), np.einsum("bjh,bh->bj", hs, dc)


def ws_backward_da_times_a(hs, a, dc):
    return a[:, :, None] * dc[:, None, :], a * np.einsum("bjh,bh->bj", hs, dc)


def test_weighted_sum_checker_accepts_reference(capsys):
    check_weighted_sum_backward(ws_backward_reference)
    assert "weighted_sum_backward: all 3 cases pass" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, which, hint",
    [
        (ws_backward_swapped, "dhs", "wrong order"),
        (ws_backward_da_without_dc, "da (second output) is wrong", "multiply by the upstream gradient dc"),
        (ws_backward_dhs_without_a, "dhs (first output) is wrong", "scaled by its weight"),
        (ws_backward_da_times_a, "da (second output) is wrong", "without a factor a_j"),
    ],
)
def test_weighted_sum_checker_rejects_wrong_versions(wrong, which, hint):
    with pytest.raises(CheckFailed) as info:
        check_weighted_sum_backward(wrong)
    message = str(info.value)
    assert "weighted_sum_backward: case 'one example" in message
    assert which in message and hint in message


def test_weighted_sum_checker_rejects_single_array():
    with pytest.raises(CheckFailed, match=r"expected a tuple \(dhs, da\)"):
        check_weighted_sum_backward(lambda hs, a, dc: ws_backward_reference(hs, a, dc)[0])


# ------------------------------------------------------------------ attention_weight_backward
def aw_backward_reference(hs, s, a, da):
    de = a * (da - (a * da).sum(axis=1, keepdims=True))  # (batch, src_len)
    return de[:, :, None] * s[:, None, :], np.einsum("bj,bjh->bh", de, hs)


def aw_backward_elementwise(hs, s, a, da):
    de = a * da  # forgets that the softmax couples the positions
    return de[:, :, None] * s[:, None, :], np.einsum("bj,bjh->bh", de, hs)


def aw_backward_diagonal(hs, s, a, da):
    de = a * (1 - a) * da
    return de[:, :, None] * s[:, None, :], np.einsum("bj,bjh->bh", de, hs)


def aw_backward_ds_wrong_axis(hs, s, a, da):
    dhs, _ = aw_backward_reference(hs, s, a, da)
    de = a * (da - (a * da).sum(axis=1, keepdims=True))
    return dhs, (de[:, :, None] * hs).sum(axis=2)  # sums over hidden instead of positions


def aw_backward_sign_flipped(hs, s, a, da):
    de = a * ((a * da).sum(axis=1, keepdims=True) - da)  # the two terms swapped
    return de[:, :, None] * s[:, None, :], np.einsum("bj,bjh->bh", de, hs)


def aw_backward_unweighted_sum(hs, s, a, da):
    de = a * (da - da.sum(axis=1, keepdims=True))  # sum_k da_k instead of sum_k a_k da_k
    return de[:, :, None] * s[:, None, :], np.einsum("bj,bjh->bh", de, hs)


def test_attention_weight_backward_checker_accepts_reference(capsys):
    check_attention_weight_backward(aw_backward_reference)
    assert "attention_weight_backward: all 3 cases pass" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (aw_backward_elementwise, "softmax couples the positions"),
        (aw_backward_diagonal, "only the diagonal"),
        (aw_backward_ds_wrong_axis, "(batch, hidden)"),
        (aw_backward_sign_flipped, "the sign is flipped"),
        (aw_backward_unweighted_sum, "not sum_k da_k"),
    ],
)
def test_attention_weight_backward_checker_rejects_wrong_versions(wrong, hint):
    with pytest.raises(CheckFailed) as info:
        check_attention_weight_backward(wrong)
    message = str(info.value)
    assert "attention_weight_backward: case '" in message
    assert hint in message

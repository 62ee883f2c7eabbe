"""Each chapter-04 checker accepts a correct answer and rejects plausible wrong ones, naming the mistake."""
import numpy as np
import pytest

from utils.checkers.core import CheckFailed
from utils.checkers.scores import (
    check_general_score,
    check_general_score_backward,
    check_local_p_weights,
)


# ------------------------------------------------------------------ general score, forward
def general_reference(query, keys, W):
    return np.einsum("btq,qk,bsk->bts", query, W, keys)  # (B, T, S)


def general_transposed_w(query, keys, W):
    return np.einsum("btk,qk,bsq->bts", query, W, keys)  # only runs when Dq == Dk


def general_plain_dot(query, keys, W):
    return query @ keys.transpose(0, 2, 1)


def general_swapped_layout(query, keys, W):
    return general_reference(query, keys, W).transpose(0, 2, 1)


def general_scaled(query, keys, W):
    return general_reference(query, keys, W) / np.sqrt(keys.shape[2])


def general_softmaxed(query, keys, W):
    e = general_reference(query, keys, W)
    e = np.exp(e - e.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def general_keys_times_w(query, keys, W):
    return query @ (keys @ W).transpose(0, 2, 1)  # fails on shapes when Dq != Dk


def test_general_score_checker_accepts_reference(capsys):
    check_general_score(general_reference)
    assert "all 4 cases pass" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, hint", [
    (general_transposed_w, "W transposed"),
    (general_plain_dot, "plain dot scores"),
    (general_swapped_layout, "(batch, src_len, tgt_len)"),
    (general_scaled, "sqrt(Dk)"),
    (general_softmaxed, "applied the softmax"),
    (general_keys_times_w, "keys @ W.T"),
])
def test_general_score_checker_names_the_mistake(wrong, hint):
    with pytest.raises(CheckFailed) as info:
        check_general_score(wrong)
    assert hint in str(info.value), str(info.value)


def test_general_score_checker_reports_not_implemented():
    def todo(query, keys, W):
        raise NotImplementedError

    with pytest.raises(CheckFailed, match="not implemented"):
        check_general_score(todo)


# ------------------------------------------------------------------ general score, backward
def backward_reference(query, keys, W, dscores):
    mapped = keys @ W.T  # (B, S, Dq)
    dquery = dscores @ mapped  # (B, T, Dq)
    dmapped = dscores.transpose(0, 2, 1) @ query  # (B, S, Dq)
    dkeys = dmapped @ W  # (B, S, Dk)
    dW = np.einsum("btq,bts,bsk->qk", query, dscores, keys)
    return dquery, dkeys, dW


def backward_no_w_in_dquery(query, keys, W, dscores):
    _, dkeys, dW = backward_reference(query, keys, W, dscores)
    return dscores @ keys, dkeys, dW


def backward_no_w_in_dkeys(query, keys, W, dscores):
    dquery, _, dW = backward_reference(query, keys, W, dscores)
    return dquery, dscores.transpose(0, 2, 1) @ query, dW


def backward_dw_per_example(query, keys, W, dscores):
    dquery, dkeys, _ = backward_reference(query, keys, W, dscores)
    return dquery, dkeys, np.einsum("btq,bts,bsk->bqk", query, dscores, keys)


def backward_dw_mean(query, keys, W, dscores):
    dquery, dkeys, _ = backward_reference(query, keys, W, dscores)
    return dquery, dkeys, np.einsum("btq,bts,bsk->bqk", query, dscores, keys).mean(axis=0)


def backward_dw_transposed(query, keys, W, dscores):
    dquery, dkeys, dW = backward_reference(query, keys, W, dscores)
    return dquery, dkeys, dW.T


def backward_wrong_order(query, keys, W, dscores):
    dquery, dkeys, dW = backward_reference(query, keys, W, dscores)
    return dkeys, dquery, dW


def backward_pair_only(query, keys, W, dscores):
    return backward_reference(query, keys, W, dscores)[:2]


def test_general_backward_checker_accepts_reference(capsys):
    check_general_score_backward(backward_reference)
    assert "all 4 cases pass" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, hint", [
    (backward_no_w_in_dquery, "dquery: you left out W"),
    (backward_no_w_in_dkeys, "dkeys: you left out W"),
    (backward_dw_per_example, "sum the per-example gradients"),
    (backward_dw_mean, "do not average"),
    (backward_dw_transposed, "dW is transposed"),
    (backward_wrong_order, "wrong order"),
    (backward_pair_only, "three gradients"),
])
def test_general_backward_checker_names_the_mistake(wrong, hint):
    with pytest.raises(CheckFailed) as info:
        check_general_score_backward(wrong)
    assert hint in str(info.value), str(info.value)


# ------------------------------------------------------------------ local-p weights
def _softmax_where(scores, allowed):
    filled = np.where(allowed, scores, -np.inf)
    row_max = filled.max(axis=-1, keepdims=True)
    row_max = np.where(np.isfinite(row_max), row_max, 0.0)
    e = np.exp(filled - row_max)
    total = e.sum(axis=-1, keepdims=True)
    return np.divide(e, total, out=np.zeros_like(e), where=total > 0)


def _parts(scores, centres, D, mask):
    j = np.arange(scores.shape[2])[None, None, :]
    distance = j - centres[:, :, None]  # (B, T, S)
    allowed = np.abs(distance) <= D
    if mask is not None:
        allowed = allowed & mask[:, None, :]
    return distance, allowed


def local_reference(scores, centres, D, mask=None):
    distance, allowed = _parts(scores, centres, D, mask)
    sigma = D / 2
    return _softmax_where(scores, allowed) * np.exp(-distance**2 / (2 * sigma**2))


def local_no_gaussian(scores, centres, D, mask=None):
    _, allowed = _parts(scores, centres, D, mask)
    return _softmax_where(scores, allowed)


def local_sigma_d(scores, centres, D, mask=None):
    distance, allowed = _parts(scores, centres, D, mask)
    return _softmax_where(scores, allowed) * np.exp(-distance**2 / (2 * D**2))


def local_no_two(scores, centres, D, mask=None):
    distance, allowed = _parts(scores, centres, D, mask)
    return _softmax_where(scores, allowed) * np.exp(-distance**2 / (D / 2) ** 2)


def local_no_window(scores, centres, D, mask=None):
    distance, _ = _parts(scores, centres, D, mask)
    allowed = np.ones(scores.shape, bool) if mask is None else np.broadcast_to(mask[:, None, :], scores.shape)
    return _softmax_where(scores, allowed) * np.exp(-distance**2 / (2 * (D / 2) ** 2))


def local_softmax_then_cut(scores, centres, D, mask=None):
    distance, allowed = _parts(scores, centres, D, mask)
    everywhere = np.ones(scores.shape, bool) if mask is None else np.broadcast_to(mask[:, None, :], scores.shape)
    return _softmax_where(scores, everywhere) * allowed * np.exp(-distance**2 / (2 * (D / 2) ** 2))


def local_renormalised(scores, centres, D, mask=None):
    weights = local_reference(scores, centres, D, mask)
    return weights / weights.sum(axis=-1, keepdims=True)


def local_gaussian_on_scores(scores, centres, D, mask=None):
    distance, allowed = _parts(scores, centres, D, mask)
    return _softmax_where(scores * np.exp(-distance**2 / (2 * (D / 2) ** 2)), allowed)


def local_ignores_padding(scores, centres, D, mask=None):
    return local_reference(scores, centres, D, None)


def local_open_window(scores, centres, D, mask=None):
    distance, allowed = _parts(scores, centres, D, mask)
    allowed = allowed & (np.abs(distance) < D)  # 2D - 1 positions around a whole-number p_t
    return _softmax_where(scores, allowed) * np.exp(-distance**2 / (2 * (D / 2) ** 2))


def local_rounded_centre(scores, centres, D, mask=None):
    distance, _ = _parts(scores, centres, D, mask)
    j = np.arange(scores.shape[2])[None, None, :]
    allowed = np.abs(j - np.floor(centres[:, :, None] + 0.5)) <= D
    if mask is not None:
        allowed = allowed & mask[:, None, :]
    return _softmax_where(scores, allowed) * np.exp(-distance**2 / (2 * (D / 2) ** 2))


def local_small_not_zero(scores, centres, D, mask=None):
    distance, allowed = _parts(scores, centres, D, mask)
    filled = np.where(allowed, scores, -30.0)  # "large negative" that leaves exp(-30) > 0 outside
    e = np.exp(filled - filled.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True) * np.exp(-distance**2 / (2 * (D / 2) ** 2))


def test_local_checker_accepts_reference(capsys):
    check_local_p_weights(local_reference)
    assert "all 5 cases pass" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, hint", [
    (local_no_gaussian, "the Gaussian is missing"),
    (local_sigma_d, "sigma is D / 2, not D"),
    (local_no_two, "you dropped the 2"),
    (local_no_window, "outside the window"),
    (local_softmax_then_cut, "ran over every source position"),
    (local_renormalised, "do not renormalise"),
    (local_gaussian_on_scores, "after the softmax, not the scores"),
    (local_ignores_padding, "padding positions inside the window"),
    (local_open_window, "edges included"),
    (local_rounded_centre, "centred on round(p_t)"),
    (local_small_not_zero, "exactly 0"),
])
def test_local_checker_names_the_mistake(wrong, hint):
    with pytest.raises(CheckFailed) as info:
        check_local_p_weights(wrong)
    assert hint in str(info.value), str(info.value)


def test_local_checker_survives_a_function_that_raises():
    def broken(scores, centres, D, mask=None):
        raise ValueError("boom")

    with pytest.raises(CheckFailed, match="raised ValueError: boom"):
        check_local_p_weights(broken)


def test_checkers_name_an_input_changed_in_place():
    def scales_query_in_place(query, keys, W):
        query *= 2.0
        return general_reference(query, keys, W) / 2.0

    with pytest.raises(CheckFailed, match="changed its input query in place"):
        check_general_score(scales_query_in_place)

    def clips_scores_in_place(scores, centres, D, mask=None):
        np.clip(scores, -50, 50, out=scores)
        scores[..., 0] += 1.0
        return np.zeros_like(scores)

    with pytest.raises(CheckFailed, match="changed its input scores in place"):
        check_local_p_weights(clips_scores_in_place)


def test_backward_checker_names_the_wrong_output_by_name():
    def zero_dw(query, keys, W, dscores):
        mapped = keys @ W.T  # (B, S, Dq)
        dmapped = np.swapaxes(dscores, 1, 2) @ query  # (B, S, Dq)
        return dscores @ mapped, dmapped @ W, np.zeros_like(W)

    with pytest.raises(CheckFailed, match=r"dquery and dkeys are right, but dW \(third output\) is wrong"):
        check_general_score_backward(zero_dw)

"""Each chapter-06 checker accepts a correct answer and rejects plausible wrong ones, naming the mistake."""
import numpy as np
import pytest

from utils.checkers.bidirectional import (
    check_bidirectional_backward,
    check_reverse_within_lengths,
)
from utils.checkers.core import CheckFailed
from utils.scratch.bidirectional import length_mask, reverse_within_lengths


# ------------------------------------------------------------------ reverse_within_lengths
def reverse_loop(x, lengths):
    out = x.copy()
    for b, n in enumerate(lengths):
        out[b, :n] = x[b, :n][::-1]
    return out


def reverse_whole_row(x, lengths):
    return x[:, ::-1].copy()


def reverse_unchanged(x, lengths):
    return x.copy()


def reverse_batch_axis(x, lengths):
    return x[::-1].copy()


def reverse_all_axes(x, lengths):
    out = x.copy()
    for b, n in enumerate(lengths):
        out[b, :n] = np.flip(x[b, :n])  # no axis: flips the features too
    return out


def reverse_off_by_one(x, lengths):
    out = x.copy()
    for b, n in enumerate(lengths):
        out[b, :n - 1] = x[b, :n - 1][::-1]
    return out


def reverse_zeroes_padding(x, lengths):
    out = np.zeros_like(x)
    for b, n in enumerate(lengths):
        out[b, :n] = x[b, :n][::-1]
    return out


def reverse_in_place(x, lengths):
    for b, n in enumerate(lengths):
        x[b, :n] = x[b, :n][::-1].copy()
    return x


def test_reverse_accepts_correct_answers(capsys):
    check_reverse_within_lengths(reverse_loop)
    check_reverse_within_lengths(reverse_within_lengths)
    assert "all 4 cases pass" in capsys.readouterr().out


@pytest.mark.parametrize("wrong,phrase", [
    (reverse_whole_row, "padding moved to the front"),
    (reverse_unchanged, "returned x unchanged"),
    (reverse_batch_axis, "batch axis"),
    (reverse_all_axes, "feature vectors came out reversed too"),
    (reverse_off_by_one, "off by one"),
    (reverse_zeroes_padding, "padding changed"),
    (reverse_in_place, "in place"),
])
def test_reverse_names_the_mistake(wrong, phrase):
    with pytest.raises(CheckFailed, match=phrase):
        check_reverse_within_lengths(wrong)


# ------------------------------------------------------------------ bidirectional_backward
def backward_reference(dh, lengths, forward_layer, backward_layer):
    H = forward_layer.hidden_size
    dh = dh * length_mask(lengths, dh.shape[1])[:, :, None]  # (batch, T, 2H)
    dx_forward = forward_layer.backward(dh[:, :, :H])
    dx_backward = backward_layer.backward(reverse_within_lengths(dh[:, :, H:], lengths))
    return dx_forward + reverse_within_lengths(dx_backward, lengths)


def backward_not_reversed_before(dh, lengths, forward_layer, backward_layer):
    H = forward_layer.hidden_size
    dh = dh * length_mask(lengths, dh.shape[1])[:, :, None]
    dx_backward = backward_layer.backward(dh[:, :, H:])
    return forward_layer.backward(dh[:, :, :H]) + reverse_within_lengths(dx_backward, lengths)


def backward_not_reversed_after(dh, lengths, forward_layer, backward_layer):
    H = forward_layer.hidden_size
    dh = dh * length_mask(lengths, dh.shape[1])[:, :, None]
    dx_backward = backward_layer.backward(reverse_within_lengths(dh[:, :, H:], lengths))
    return forward_layer.backward(dh[:, :, :H]) + dx_backward


def backward_full_flip(dh, lengths, forward_layer, backward_layer):
    H = forward_layer.hidden_size
    dh = dh * length_mask(lengths, dh.shape[1])[:, :, None]
    dx_backward = backward_layer.backward(dh[:, ::-1, H:])
    return forward_layer.backward(dh[:, :, :H]) + dx_backward[:, ::-1]


def backward_swapped(dh, lengths, forward_layer, backward_layer):
    H = forward_layer.hidden_size
    dh = dh * length_mask(lengths, dh.shape[1])[:, :, None]
    dx_backward = backward_layer.backward(reverse_within_lengths(dh[:, :, :H], lengths))
    return forward_layer.backward(dh[:, :, H:]) + reverse_within_lengths(dx_backward, lengths)


def backward_forward_only(dh, lengths, forward_layer, backward_layer):
    H = forward_layer.hidden_size
    dh = dh * length_mask(lengths, dh.shape[1])[:, :, None]
    backward_layer.backward(reverse_within_lengths(dh[:, :, H:], lengths))
    return forward_layer.backward(dh[:, :, :H])


def backward_no_mask(dh, lengths, forward_layer, backward_layer):
    H = forward_layer.hidden_size
    dx_backward = backward_layer.backward(reverse_within_lengths(dh[:, :, H:], lengths))
    return forward_layer.backward(dh[:, :, :H]) + reverse_within_lengths(dx_backward, lengths)


def backward_whole_dh(dh, lengths, forward_layer, backward_layer):
    return forward_layer.backward(dh)  # not split: the layer refuses (batch, T, 2H)


def backward_without_grads(dh, lengths, forward_layer, backward_layer):
    """Right dx, but computed on copies: the reader's layers never get their grads."""
    import copy
    return backward_reference(dh, lengths, copy.deepcopy(forward_layer), copy.deepcopy(backward_layer))


def test_backward_accepts_the_correct_answer(capsys):
    check_bidirectional_backward(backward_reference)
    assert "all 4 cases pass" in capsys.readouterr().out


@pytest.mark.parametrize("wrong,phrase", [
    (backward_not_reversed_before, r"\*before\* backward_layer.backward"),
    (backward_not_reversed_after, "reverse it back"),
    (backward_full_flip, "whole padded rows"),
    (backward_swapped, "halves are swapped"),
    (backward_forward_only, "only the forward direction"),
    (backward_no_mask, "multiply dh by the mask"),
    (backward_whole_dh, "one half of dh"),
    (backward_without_grads, "dx is right but grads"),
])
def test_backward_names_the_mistake(wrong, phrase):
    with pytest.raises(CheckFailed, match=phrase):
        check_bidirectional_backward(wrong)


def test_full_flip_passes_only_the_unpadded_cases():
    """The full-flip mistake is caught by a padded case, not before (the cases are ordered)."""
    with pytest.raises(CheckFailed, match="padded rows of lengths 5, 3, 1"):
        check_bidirectional_backward(backward_full_flip)

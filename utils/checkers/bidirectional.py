"""Exercise checkers for chapter 06 (bidirectional encoders).

Each checker runs the reader's function on several cases, compares it with the reference in
:mod:`utils.scratch.bidirectional`, and, where the wrong answer matches a common mistake,
names the mistake:

* :func:`check_reverse_within_lengths`: ``fn(x, lengths) -> x`` with each row's first
  ``lengths[b]`` steps reversed and its padding left in place;
* :func:`check_bidirectional_backward`: ``fn(dh, lengths, forward_layer, backward_layer) -> dx``,
  the backward pass of the bidirectional wrapper (gradient split in two halves, the backward
  half reversed within the lengths before its layer and reversed back after).
"""
from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np

from ..scratch.bidirectional import Bidirectional, length_mask, reverse_within_lengths
from ..scratch.rnn import GRU, LSTM
from .core import ReaderFunction, as_array, check_cases, compare_arrays, is_close

__all__ = ["check_bidirectional_backward", "check_reverse_within_lengths"]


def _reverse_first(x: np.ndarray, lengths) -> np.ndarray:
    """Reverse the first lengths[b] steps of each row (lengths may be out of 1..T: clipped)."""
    out = x.copy()
    for b, n in enumerate(np.clip(np.asarray(lengths), 0, x.shape[1])):
        out[b, :n] = x[b, :n][::-1]
    return out


# ------------------------------------------------------------------ reverse within lengths
def check_reverse_within_lengths(fn: Callable) -> None:
    """Check ``fn(x, lengths) -> out``: each row's first ``lengths[b]`` steps reversed.

    x ``(batch, T)`` or ``(batch, T, features)``, padding at the end of each row; lengths
    ``(batch,)`` ints; out has x's shape, ``out[b, t] = x[b, lengths[b] - 1 - t]`` for
    ``t < lengths[b]``, and the padding ``out[b, t] = x[b, t]`` unchanged. x itself must not change.
    """
    rng = np.random.default_rng(0)
    features = np.round(rng.standard_normal((2, 4, 3)), 2)  # (batch, T, features)
    features[1, 2:] = 0.0  # the second row has 2 real steps
    inputs = [
        ("one full row [1 2 3 4 5], length 5: a plain reversal", (np.array([[1, 2, 3, 4, 5]]), np.array([5]))),
        ("a padded batch of token ids, lengths 3, 5, 1 (0 is <pad>)",
         (np.array([[4, 7, 9, 0, 0], [1, 2, 3, 4, 5], [6, 0, 0, 0, 0]]), np.array([3, 5, 1]))),
        ("feature vectors move as a whole: x (batch=2, T=4, features=3), lengths 4, 2", (features, np.array([4, 2]))),
        ("padding that is not zero (here -1) stays where it is and as it is",
         (np.array([[5, 6, -1, -1], [8, 9, 10, -1]]), np.array([2, 3]))),
    ]
    cases = [(d, args, reverse_within_lengths(*args)) for d, args in inputs]

    # ReaderFunction passes copies and names an input the function changed in place ("x").
    run = ReaderFunction(fn, "reverse_within_lengths", ("x", "lengths"))

    def hint(description, got, expected):
        x, lengths = dict(inputs)[description]
        got_arr = as_array(got, x.shape)
        if got_arr is None:  # not an array of x's shape (or not finite): the comparison says which
            return (f"the output has x's shape {x.shape}: reverse the order of the steps, do not drop or add any."
                    if np.shape(got) != x.shape else None)
        padding = ~length_mask(lengths, x.shape[1])  # (batch, T)
        if is_close(got_arr, x):
            return ("you returned x unchanged: reverse each row's first lengths[b] steps, along time (axis 1)"
                    + (" (reversing the batch axis, of size 1 here, changes nothing)." if x.shape[0] == 1 else "."))
        if is_close(got_arr, x[:, ::-1]):
            return ("you reversed the whole padded row, so the padding moved to the front: the backward RNN "
                    "would read the pads first. Reverse only x[b, :lengths[b]] and leave the padding after it.")
        if x.shape[0] > 1 and is_close(got_arr, x[::-1]):
            return "you reversed the batch axis (axis 0); the steps are axis 1."
        if x.ndim == 3 and is_close(got_arr, expected[:, :, ::-1] * ~padding[:, :, None] + x * padding[:, :, None]):
            return ("the feature vectors came out reversed too: reverse along time only (np.flip without an "
                    "axis, or x[b, :n][::-1, ::-1], flips every axis). Use x[b, :n][::-1].")
        for shift in (-1, 1):
            if is_close(got_arr, _reverse_first(x, lengths + shift)):
                return (f"off by one: you reversed the first lengths[b] {'-' if shift < 0 else '+'} 1 steps. "
                        "Row b has lengths[b] real steps, at positions 0 .. lengths[b] - 1.")
        if padding.any() and is_close(np.where(padding, 0, got_arr), np.where(padding, 0, expected)):
            return ("the real steps are right but the padding changed: leave out[b, t] = x[b, t] for "
                    "t >= lengths[b] (do not zero it or move it).")
        return None

    check_cases(run, cases, name="reverse_within_lengths", hint=hint)


# ------------------------------------------------------------------ the wrapper's backward
def _bidirectional_backward(dh, lengths, forward_layer, backward_layer, mistake=None) -> np.ndarray:
    """The wrapper's backward on copies of the two layers; ``mistake`` makes a known wrong variant."""
    forward_layer, backward_layer = copy.deepcopy(forward_layer), copy.deepcopy(backward_layer)
    H = forward_layer.hidden_size
    steps = dh.shape[1]
    full_flip = mistake == "full flip"

    def rev(a):
        return a[:, ::-1] if full_flip else reverse_within_lengths(a, lengths)

    if mistake != "no mask":
        dh = dh * length_mask(lengths, steps)[:, :, None]
    d_forward, d_backward = (dh[:, :, H:], dh[:, :, :H]) if mistake == "swapped" else (dh[:, :, :H], dh[:, :, H:])
    dx_forward = forward_layer.backward(d_forward)
    reversed_before = mistake not in ("not reversed before", "neither")
    dx_backward = backward_layer.backward(rev(d_backward) if reversed_before else d_backward)
    if mistake not in ("not reversed after", "neither"):
        dx_backward = rev(dx_backward)
    if mistake == "forward only":
        return dx_forward
    if mistake == "backward only":
        return dx_backward
    return dx_forward + dx_backward


_MISTAKES = {
    "not reversed before": ("the backward layer read each row reversed, so the gradient of its states must be "
                            "reversed the same way (within the lengths) *before* backward_layer.backward."),
    "not reversed after": ("backward_layer.backward returns dx in the order that layer read the steps "
                           "(reversed): reverse it back within the lengths before adding it."),
    "neither": ("the backward half is never reversed: reverse dh[..., H:] within the lengths before "
                "backward_layer.backward, and reverse the dx it returns back again."),
    "full flip": ("you reversed whole padded rows ([:, ::-1]); the backward layer read each row reversed "
                  "*within its length*, padding last. Use reverse_within_lengths for both reversals."),
    "swapped": ("the halves are swapped: the first H features of each state are the forward direction's, "
                "dh[..., :H] goes to forward_layer, dh[..., H:] to backward_layer."),
    "forward only": ("you returned only the forward direction's dx: x feeds both directions, so "
                     "dx = dx_forward + dx_backward."),
    "backward only": ("you returned only the backward direction's dx: x feeds both directions, so "
                      "dx = dx_forward + dx_backward."),
    "no mask": ("the outputs at padding are constant zeros (forward multiplied them by the mask), so no "
                "gradient comes from there: multiply dh by the mask (t < lengths[b]) before the layers see it."),
}


def check_bidirectional_backward(fn: Callable) -> None:
    """Check ``fn(dh, lengths, forward_layer, backward_layer) -> dx``.

    The forward pass was ``hs = [forward_layer(x) ; reverse(backward_layer(reverse(x)))] * mask``
    with ``reverse`` = reverse within ``lengths`` and ``mask`` = (t < lengths[b]); both layers
    have run forward. dh ``(batch, T, 2H)``, lengths ``(batch,)``; return dx ``(batch, T, input)``
    after calling each layer's ``backward`` once (which fills their ``grads``).
    """
    settings = [
        ("GRU, 2 full rows (no padding)", GRU, 3, 2, 4, [4, 4], False),
        ("LSTM, 3 full rows (no padding)", LSTM, 2, 3, 5, [5, 5, 5], False),
        ("GRU, padded rows of lengths 5, 3, 1; dh is zero at the padding", GRU, 3, 3, 5, [5, 3, 1], False),
        ("LSTM, padded rows of lengths 2, 4; dh is NOT zero at the padding", LSTM, 2, 2, 4, [2, 4], True),
    ]
    inputs, layers = [], {}
    for k, (description, cell, D, batch, T, lengths, dh_at_padding) in enumerate(settings):
        rng = np.random.default_rng(30 + k)
        lengths = np.array(lengths)
        wrapper = Bidirectional(cell, D, 3, rng=rng)
        x = rng.standard_normal((batch, T, D))  # (batch, T, input)
        wrapper.forward(x, lengths)
        dh = rng.standard_normal((batch, T, 6))  # (batch, T, 2H)
        if not dh_at_padding:
            dh = dh * length_mask(lengths, T)[:, :, None]
        layers[description] = (wrapper.forward_layer, wrapper.backward_layer)
        inputs.append((description, (dh, lengths)))

    def expected_for(dh, lengths, forward_layer, backward_layer):
        reference = Bidirectional.from_layers(copy.deepcopy(forward_layer), copy.deepcopy(backward_layer))
        reference.cache = {"lengths": lengths, "mask": length_mask(lengths, dh.shape[1])[:, :, None],
                           "steps": dh.shape[1], "batch": dh.shape[0]}  # what its forward left behind
        dx = reference.backward(dh)
        return dx, {k: v.copy() for k, v in reference.grads.items()}

    def call(dh, lengths, layer_pair):
        """The reader's fn on (copies of) one case's layers; returns dx and the grads it left in them."""
        forward_layer, backward_layer = layer_pair
        dx = fn(dh, lengths, forward_layer, backward_layer)
        grads = {**{f"forward.{k}": v for k, v in forward_layer.grads.items()},
                 **{f"backward.{k}": v for k, v in backward_layer.grads.items()}}
        return dx, grads

    # ReaderFunction gives every call fresh copies of dh, lengths and the two layers, names an input
    # changed in place, and holds the whole check to one time budget.
    run = ReaderFunction(call, "bidirectional_backward", ("dh", "lengths", "layers"))

    def compare(got, expected):
        dx, grads = got
        problem = compare_arrays(dx, expected[0])
        if problem:
            return f"dx: {problem}"
        for name, value in expected[1].items():
            if not is_close(grads[name], value):
                return (f"dx is right but grads[{name!r}] is not: did you call each layer's backward exactly "
                        "once, with the gradient of its own states?")
        return None

    def hint(description, got, expected):
        dh, lengths = dict(inputs)[description]
        forward_layer, backward_layer = layers[description]
        for mistake, message in _MISTAKES.items():
            if is_close(got[0], _bidirectional_backward(dh, lengths, forward_layer, backward_layer, mistake)):
                return message
        return None

    def error_hint(description, error):
        if isinstance(error, ValueError) and "dh must have shape" in str(error):
            return ("a layer's backward refused its gradient: each layer's backward takes the gradient of "
                    "its own states, (batch, T, H): one half of dh.")
        return None

    cases = [(description, (dh, lengths, layers[description]), expected_for(dh, lengths, *layers[description]))
             for description, (dh, lengths) in inputs]
    check_cases(run, cases, name="bidirectional_backward", compare=compare, hint=hint, error_hint=error_hint)

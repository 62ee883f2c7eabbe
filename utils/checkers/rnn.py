"""Checkers for the exercises of chapter 01 (RNN basics).

Each checker runs the reader's function on cases built so that one part of the cell can be
told apart from the others: a gate's bias is set to +-30, which pins that gate at 1 or 0
(sigmoid(30) = 1 - 1e-13), so, e.g., a GRU with z = 1 must return h_{t-1} whatever its
candidate is. When a case fails, the message names the gate (or gradient) that looks wrong;
when the output matches a known mistake exactly (z used the wrong way round, the reset gate
applied before W_hn, a missing tanh, transposed recurrent weights, (c, h) returned as (h, c),
...) it names that mistake. A gate is blamed only when a value of that gate alone (in its range:
[0, 1] for a sigmoid, (-1, 1) for a tanh) turns the expected output into the reader's; when no
single gate can, the message says so instead of guessing.

* :func:`check_gru_step`: ``gru_step(x, h_prev, params) -> h``
* :func:`check_lstm_step`: ``lstm_step(x, h_prev, c_prev, params) -> (h, c)``
* :func:`check_rnn_step_backward`: ``rnn_step_backward(dh, x, h_prev, h, params)
  -> (dx, dh_prev, dW_x, dW_h, db)``

The parameter names are those of ``utils.scratch.rnn`` (``W_xz``, ``b_hn``, ...), and so are the
reference answers (``utils.scratch.rnn.gru_step``, ``lstm_step``, ``rnn_step``).
"""
from __future__ import annotations

from itertools import combinations
from typing import Callable

import numpy as np

from ..scratch.rnn import (
    GRU,
    LSTM,
    RNN,
    _gru_step_with_gates,
    _lstm_step_with_gates,
    gru_step,
    lstm_step,
    rnn_step,
    sigmoid,
)
from .core import CheckFailed, ReaderFunction, as_array, check_cases, compare_tuple, is_close

__all__ = [
    "check_gru_step",
    "check_lstm_step",
    "check_rnn_step_backward",
    "reference_rnn_step_backward",
]

TOLERANCE = 1e-9  # slack for "lies between" tests on float64 outputs
SATURATE = 30.0  # a gate bias of +-30 pins the gate at 1 or 0 (to ~1e-13)
BATCH, INPUT, HIDDEN = 2, 3, 4  # input != hidden, so a transposed weight fails loudly


def _random_case(cls, seed: int, batch: int = BATCH, input_size: int = INPUT, hidden: int = HIDDEN):
    rng = np.random.default_rng(seed)
    layer = cls(input_size, hidden, rng=rng)
    params = {name: 2.0 * p for name, p in layer.params.items()}  # gates away from 0.5
    x = rng.standard_normal((batch, input_size))
    h_prev = rng.standard_normal((batch, hidden)) * 0.8
    c_prev = rng.standard_normal((batch, hidden))
    return params, x, h_prev, c_prev


def _pinned(params: dict, **biases: float) -> dict:
    """A copy of params with the named biases set to a constant (e.g. b_z=+30 pins z at 1)."""
    out = {name: p.copy() for name, p in params.items()}
    for name, value in biases.items():
        out[name][...] = value
    return out


def _known_mistake(run: ReaderFunction, cases, mistakes) -> str | None:
    """The text of the first known mistake whose outputs ``run`` reproduces on every case.

    ``run`` computes each case once (:class:`ReaderFunction`), so this costs no extra calls.
    """
    outputs = []
    for _, args, _ in cases:
        try:
            outputs.append(run(*args))
        except CheckFailed:
            raise
        except Exception:  # noqa: BLE001
            return None
    for text, wrong_fn in mistakes:
        if all(is_close(got, wrong_fn(*args)) for got, (_, args, _) in zip(outputs, cases)):
            return text
    return None


def _between(value, a, b) -> bool:
    """True when every entry of ``value`` lies between the matching entries of ``a`` and ``b``.

    ``value = (1 - w) * a + w * b`` for some weight ``w`` in [0, 1] (a gate value) exactly when
    it lies between ``a`` and ``b``; this is how a checker tests "only this gate is wrong".
    """
    low, high = np.minimum(a, b), np.maximum(a, b)
    return bool(np.all((value >= low - TOLERANCE) & (value <= high + TOLERANCE)))


def _inside_tanh_range(value) -> bool:
    return bool(np.all(np.abs(value) < 1.0))


def _transposed_mistakes(gates, variant, equation):
    """One known mistake per non-empty set of recurrent weights used untransposed.

    ``h_prev @ W_h`` instead of ``h_prev @ W_h.T`` raises no shape error, because W_h is square;
    it silently computes a different function.
    """
    mistakes = []
    for size in range(len(gates), 0, -1):
        for subset in combinations(gates, size):
            names = ", ".join(f"W_h{g}" for g in subset)
            mistakes.append((
                f"the recurrent weights look transposed ({names}): {equation} needs "
                f"h_prev @ W_h?.T, like x @ W_x?.T; W_h? is square, so h_prev @ W_h? runs without "
                f"a shape error but computes a different function",
                lambda *args, _subset=subset: variant(*args, transposed=_subset)))
    return mistakes


# --------------------------------------------------------------------------- GRU step
def _gru_variant(x, h_prev, p, *, swap_z=False, reset="after", n_act=np.tanh, swap_rz=False,
                 b_hn_outside=False, r_in_update=False, transposed=()):
    """A GRU step with one deliberate mistake (used to recognise the reader's).

    ``transposed``: the gates whose recurrent weight is used as ``h_prev @ W_h?`` (no .T).
    """
    def W_h(name):
        return p[f"W_h{name}"] if name in transposed else p[f"W_h{name}"].T

    r_name, z_name = ("z", "r") if swap_rz else ("r", "z")
    r = sigmoid(x @ p[f"W_x{r_name}"].T + h_prev @ W_h(r_name) + p[f"b_{r_name}"])
    z = sigmoid(x @ p[f"W_x{z_name}"].T + h_prev @ W_h(z_name) + p[f"b_{z_name}"])
    if reset == "after":
        recurrent = r * (h_prev @ W_h("n") + (0.0 if b_hn_outside else p["b_hn"]))
        recurrent = recurrent + (p["b_hn"] if b_hn_outside else 0.0)
    elif reset == "before":  # Cho et al.'s original formulation
        recurrent = (r * h_prev) @ W_h("n") + p["b_hn"]
    else:  # reset gate not used at all
        recurrent = h_prev @ W_h("n") + p["b_hn"]
    n = n_act(x @ p["W_xn"].T + p["b_xn"] + recurrent)
    kept = r * h_prev if r_in_update else h_prev
    if swap_z:
        return z * n + (1.0 - z) * kept
    return (1.0 - z) * n + z * kept


GRU_MISTAKES = [
    ("update gate z is used the wrong way round: h_t = (1 - z_t) * n_t + z_t * h_{t-1} "
     "(z close to 1 keeps the old state)",
     lambda x, h, p: _gru_variant(x, h, p, swap_z=True)),
    ("reset gate r is applied to h_{t-1} before W_hn (the original Cho et al. GRU); "
     "torch's GRU, and this course's, apply it after: r_t * (W_hn h_{t-1} + b_hn)",
     lambda x, h, p: _gru_variant(x, h, p, reset="before")),
    ("reset gate r is never applied: the candidate must use r_t * (W_hn h_{t-1} + b_hn)",
     lambda x, h, p: _gru_variant(x, h, p, reset="none")),
    ("b_hn is outside the reset gate: write r_t * (W_hn h_{t-1} + b_hn), not "
     "r_t * (W_hn h_{t-1}) + b_hn",
     lambda x, h, p: _gru_variant(x, h, p, b_hn_outside=True)),
    ("candidate n uses a sigmoid: it must be tanh (values in (-1, 1), not (0, 1))",
     lambda x, h, p: _gru_variant(x, h, p, n_act=sigmoid)),
    ("reset gate r and update gate z are swapped: r_t uses W_xr, W_hr, b_r and z_t uses "
     "W_xz, W_hz, b_z",
     lambda x, h, p: _gru_variant(x, h, p, swap_rz=True)),
    ("the reset gate r multiplies h_{t-1} in the update: it is h_t = (1 - z_t) * n_t + "
     "z_t * h_{t-1}; r_t belongs only inside the candidate n_t",
     lambda x, h, p: _gru_variant(x, h, p, r_in_update=True)),
] + _transposed_mistakes(("r", "z", "n"), _gru_variant, "every gate")

# What each diagnostic case isolates, keyed by its description.
_GRU_PART = {
    "z pinned at 1": "update gate z looks wrong: with b_z = +30 (so z_t = 1) the step must return "
                     "h_{t-1} unchanged (h_t = (1 - z_t) * n_t + z_t * h_{t-1}); yours lies between "
                     "n_t and h_{t-1}, as if z_t were below 1: does z_t use b_z?",
    "z pinned at 0, r pinned at 0": "candidate n looks wrong: with z_t = 0 and r_t = 0 (biases "
                                    "-30) the step must return n_t = tanh(W_xn x_t + b_xn)",
    "z pinned at 0, r pinned at 1": "candidate n's recurrent part looks wrong: with r_t = 1, "
                                    "n_t = tanh(W_xn x_t + b_xn + W_hn h_{t-1} + b_hn)",
    "z pinned at 0": "reset gate r looks wrong: with z_t = 0 the step returns n_t, and n_t is "
                     "right when r is pinned, so r_t = sigmoid(W_xr x_t + W_hr h_{t-1} + b_r) "
                     "or its use r_t * (W_hn h_{t-1} + b_hn) is off",
    "general": "update gate z looks wrong: every case with z pinned passes, so the value "
               "z_t = sigmoid(W_xz x_t + W_hz h_{t-1} + b_z) is off",
}
_NO_SINGLE_GATE = ("no single gate explains the difference between expected and got above: no value "
                   "of {gates} alone turns the expected {output} into yours. Look for a term added "
                   "to or missing from {equation}")


def _gru_explained(description, args, got) -> bool:
    """Can a wrong value of the one part this case isolates turn the expected h_t into ``got``?"""
    x, h_prev, p = args
    _, (r, z, n, hn) = _gru_step_with_gates(x, h_prev, p)
    if description in ("z pinned at 1", "general"):  # only z wrong: h_t = (1 - z') n_t + z' h_{t-1}
        return _between(got, n, h_prev)
    # z pinned at 0: h_t = n_t, a tanh, whatever part of the candidate is wrong ...
    if not _inside_tanh_range(got):
        return False
    if description == "z pinned at 0":  # ... and only r wrong: n_t = tanh(a_xn + r' * hn), r' in [0, 1]
        return _between(np.arctanh(got) - (x @ p["W_xn"].T + p["b_xn"]), 0.0, hn)
    return True


def _gru_hint(fn, cases):
    args_of = {description: args for description, args, _ in cases}

    def hint(description, got, expected):
        mistake = _known_mistake(fn, cases, GRU_MISTAKES)
        if mistake:
            return mistake
        got = as_array(got, np.shape(expected))
        if got is None:
            return None  # the comparison already says what is wrong (shape, NaN, type)
        part = "general" if description.startswith("general") else description
        if _gru_explained(part, args_of[description], got):
            return _GRU_PART[part]
        return _NO_SINGLE_GATE.format(gates="z_t in [0, 1], r_t in [0, 1] or n_t in (-1, 1)",
                                      output="h_t", equation="h_t = (1 - z_t) * n_t + z_t * h_{t-1}")

    return hint


def check_gru_step(fn: Callable) -> None:
    """Check a reader's ``gru_step(x, h_prev, params) -> h``.

    x (batch, input), h_prev (batch, hidden), params the dict of ``utils.scratch.GRU`` (W_xr, W_hr,
    b_r, W_xz, W_hz, b_z, W_xn, W_hn, b_xn, b_hn). Raises CheckFailed naming the gate that
    looks wrong; prints one line when every case passes.
    """
    params, x, h_prev, _ = _random_case(GRU, seed=11)
    params2, x2, h2, _ = _random_case(GRU, seed=12, batch=3, input_size=5, hidden=6)
    inputs = [
        ("z pinned at 1", (x, h_prev, _pinned(params, b_z=SATURATE))),
        ("z pinned at 0, r pinned at 0", (x, h_prev, _pinned(params, b_z=-SATURATE, b_r=-SATURATE))),
        ("z pinned at 0, r pinned at 1", (x, h_prev, _pinned(params, b_z=-SATURATE, b_r=SATURATE))),
        ("z pinned at 0", (x, h_prev, _pinned(params, b_z=-SATURATE))),
        ("general", (x, h_prev, params)),
        ("general, batch 3, input 5, hidden 6", (x2, h2, params2)),
    ]
    cases = [(d, args, gru_step(*args)) for d, args in inputs]
    run = ReaderFunction(fn, "gru_step", ("x", "h_prev", "params"))
    check_cases(run, cases, name="gru_step", hint=_gru_hint(run, cases))


# --------------------------------------------------------------------------- LSTM step
def _lstm_variant(x, h_prev, c_prev, p, *, one_minus_f=False, tanh_c=True, g_act=np.tanh,
                  swap_if=False, h_from_prev_c=False, coupled=False, transposed=()):
    """An LSTM step with one deliberate mistake.

    ``transposed``: the gates whose recurrent weight is used as ``h_prev @ W_h?`` (no .T).
    """
    def gate(name, act=sigmoid):
        W_h = p[f"W_h{name}"] if name in transposed else p[f"W_h{name}"].T
        return act(x @ p[f"W_x{name}"].T + h_prev @ W_h + p[f"b_{name}"])

    f, i, g, o = gate("f"), gate("i"), gate("g", g_act), gate("o")
    if swap_if:
        f, i = i, f
    if one_minus_f:
        f = 1.0 - f
    if coupled:
        i = 1.0 - f
    c = f * c_prev + i * g
    state = c_prev if h_from_prev_c else c
    h = o * (np.tanh(state) if tanh_c else state)
    return h, c


LSTM_MISTAKES = [
    ("forget gate f is used the wrong way round: c_t = f_t * c_{t-1} + i_t * g_t "
     "(f close to 1 keeps the old cell state)",
     lambda x, h, c, p: _lstm_variant(x, h, c, p, one_minus_f=True)),
    ("input gate i and forget gate f are swapped: f_t multiplies c_{t-1}, i_t multiplies g_t",
     lambda x, h, c, p: _lstm_variant(x, h, c, p, swap_if=True)),
    ("input gate i is not used: you wrote (1 - f_t) * g_t (the coupled variant); the LSTM "
     "has its own input gate, c_t = f_t * c_{t-1} + i_t * g_t",
     lambda x, h, c, p: _lstm_variant(x, h, c, p, coupled=True)),
    ("candidate g uses a sigmoid: it must be tanh (values in (-1, 1))",
     lambda x, h, c, p: _lstm_variant(x, h, c, p, g_act=sigmoid)),
    ("h_t = o_t * tanh(c_t): the tanh on the cell state is missing",
     lambda x, h, c, p: _lstm_variant(x, h, c, p, tanh_c=False)),
    ("h_t must use the NEW cell state: h_t = o_t * tanh(c_t), not tanh(c_{t-1})",
     lambda x, h, c, p: _lstm_variant(x, h, c, p, h_from_prev_c=True)),
    ("the two outputs are swapped: your first output is the cell state c_t and your second is "
     "h_t; return (h_t, c_t), in that order (like torch's (h_n, c_n))",
     lambda x, h, c, p: lstm_step(x, h, c, p)[::-1]),
] + _transposed_mistakes(("f", "i", "g", "o"), _lstm_variant, "every gate")

# What a case with a wrong c_t isolates (h_t is diagnosed separately, once c_t is right).
_LSTM_CELL_PART = {
    "f pinned at 1, i pinned at 0": "forget gate f looks wrong: with b_f = +30 and b_i = -30 "
                                    "(f_t = 1, i_t = 0) the cell must keep c_{t-1} unchanged",
    "f pinned at 0, i pinned at 1": "candidate g looks wrong: with f_t = 0 and i_t = 1 the cell "
                                    "state must be g_t = tanh(W_xg x_t + W_hg h_{t-1} + b_g)",
    "f pinned at 0": "input gate i looks wrong: with f_t = 0, c_t = i_t * g_t and g_t is right, "
                     "so i_t = sigmoid(W_xi x_t + W_hi h_{t-1} + b_i) is off",
}
_LSTM_FORGET_VALUE = ("forget gate f looks wrong: every case with f pinned passes, so the value "
                      "f_t = sigmoid(W_xf x_t + W_hf h_{t-1} + b_f) is off")


def _lstm_cell_hint(description, got_c, c_prev, f, i, g) -> str:
    """Name the part of c_t = f_t * c_{t-1} + i_t * g_t that a wrong value of explains ``got_c``."""
    if description == "f pinned at 1, i pinned at 0":  # c_t must be c_{t-1}
        if _between(got_c, 0.0, c_prev):  # = f' c_{t-1}, f' in [0, 1]
            return _LSTM_CELL_PART[description]
        if _between(got_c - c_prev, 0.0, g):  # = c_{t-1} + i' g_t, i' in [0, 1]
            return ("input gate i looks wrong: with b_i = -30 (so i_t = 0) nothing may be written "
                    "to the cell, yet yours adds a fraction of g_t to c_{t-1}: does i_t use b_i?")
    elif description == "f pinned at 0, i pinned at 1":  # c_t must be g_t, a tanh
        if _inside_tanh_range(got_c):
            return _LSTM_CELL_PART[description]
    elif description == "f pinned at 0":  # c_t = i' g_t
        if _between(got_c, 0.0, g):
            return _LSTM_CELL_PART[description]
    elif _between(got_c - i * g, 0.0, c_prev):  # every pinned case passes: c_t = f' c_{t-1} + i g
        return _LSTM_FORGET_VALUE
    return _NO_SINGLE_GATE.format(gates="f_t, i_t in [0, 1] or g_t in (-1, 1)", output="c_t",
                                  equation="c_t = f_t * c_{t-1} + i_t * g_t")


def check_lstm_step(fn: Callable) -> None:
    """Check a reader's ``lstm_step(x, h_prev, c_prev, params) -> (h, c)``.

    x (batch, input), h_prev and c_prev (batch, hidden), params the dict of ``utils.scratch.LSTM``
    (W_xf, W_hf, b_f, W_xi, ..., b_o). Raises CheckFailed naming the gate that looks wrong.
    """
    params, x, h_prev, c_prev = _random_case(LSTM, seed=21)
    params2, x2, h2, c2 = _random_case(LSTM, seed=22, batch=3, input_size=5, hidden=6)
    inputs = [
        ("f pinned at 1, i pinned at 0", (x, h_prev, c_prev, _pinned(params, b_f=SATURATE, b_i=-SATURATE))),
        ("f pinned at 0, i pinned at 1", (x, h_prev, c_prev, _pinned(params, b_f=-SATURATE, b_i=SATURATE))),
        ("f pinned at 0", (x, h_prev, c_prev, _pinned(params, b_f=-SATURATE))),
        ("o pinned at 1", (x, h_prev, c_prev, _pinned(params, b_o=SATURATE))),
        ("general", (x, h_prev, c_prev, params)),
        ("general, batch 3, input 5, hidden 6", (x2, h2, c2, params2)),
    ]
    cases = [(d, args, lstm_step(*args)) for d, args in inputs]
    run = ReaderFunction(fn, "lstm_step", ("x", "h_prev", "c_prev", "params"))
    compare = compare_tuple(("h_t", "c_t"), order=(1, 0))  # c_t first: h_t is computed from it
    args_of = {description: args for description, args, _ in cases}

    def hint(description, got, expected):
        mistake = _known_mistake(run, cases, LSTM_MISTAKES)
        if mistake:
            return mistake
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            return None  # the comparison already says so
        got_h, got_c = (as_array(g, np.shape(e)) for g, e in zip(got, expected))
        if got_h is None or got_c is None:
            return None
        x, h_prev, c_prev, p = args_of[description]
        _, c, (f, i, g, o, tanh_c) = _lstm_step_with_gates(x, h_prev, c_prev, p)
        if not is_close(got_c, c):
            return _lstm_cell_hint(description, got_c, c_prev, f, i, g)
        # c_t is right, so h_t = o_t * tanh(c_t) is wrong: is it o, or what o multiplies?
        _, o_pinned_args, o_pinned_expected = cases[3]
        try:
            o_pinned_h = as_array(run(*o_pinned_args)[0], np.shape(o_pinned_expected[0]))
        except CheckFailed:
            raise
        except Exception:  # noqa: BLE001
            o_pinned_h = None
        if o_pinned_h is not None and is_close(o_pinned_h, o_pinned_expected[0]):
            if _between(got_h, 0.0, tanh_c):  # h_t = o' * tanh(c_t) with o' in [0, 1]
                return ("output gate o looks wrong: c_t is right, and h_t is right when o is pinned "
                        "at 1, so o_t = sigmoid(W_xo x_t + W_ho h_{t-1} + b_o) is off")
        elif o_pinned_h is not None and _between(o_pinned_h, 0.0, o_pinned_expected[0]):
            return ("output gate o looks wrong: with b_o = +30 (so o_t = 1) h_t must equal "
                    "tanh(c_t), and yours is a fraction of it, as if o_t were below 1: does o_t "
                    "use b_o?")
        return _NO_SINGLE_GATE.format(gates="o_t in [0, 1]", output="h_t (c_t is right)",
                                      equation="h_t = o_t * tanh(c_t)")

    check_cases(run, cases, name="lstm_step", compare=compare, hint=hint)


# --------------------------------------------------------------------------- RNN backward
def reference_rnn_step_backward(dh, x, h_prev, h, params):
    """Backward of one step h = tanh(x W_x^T + h_prev W_h^T + b).

    dh (batch, hidden): dL/dh_t. Returns (dx (batch, input), dh_prev (batch, hidden),
    dW_x (hidden, input), dW_h (hidden, hidden), db (hidden,)).
    """
    da = dh * (1.0 - h**2)  # (batch, hidden): through tanh, whose derivative is 1 - tanh^2
    return da @ params["W_x"], da @ params["W_h"], da.T @ x, da.T @ h_prev, da.sum(axis=0)


RNN_GRAD_NAMES = ("dx", "dh_prev", "dW_x", "dW_h", "db")


def _rnn_backward_variant(dh, x, h_prev, h, p, *, deriv="h", dW_h_uses="h_prev", sum_db=True,
                          average=None):
    """The backward of one RNN step with one deliberate mistake.

    average: None, "weights" (dW_x, dW_h, db divided by the batch size) or "da" (da divided
    by it, so every gradient is).
    """
    if deriv == "h":
        da = dh * (1.0 - h**2)
    elif deriv == "h_prev":
        da = dh * (1.0 - h_prev**2)
    elif deriv == "tanh_h":  # tanh applied twice: h is already tanh(a)
        da = dh * (1.0 - np.tanh(h) ** 2)
    else:  # forgot the tanh derivative
        da = dh
    batch = x.shape[0]
    if average == "da":
        da = da / batch
    dW_h = da.T @ (h_prev if dW_h_uses == "h_prev" else h)
    dW_x, db = da.T @ x, (da.sum(axis=0) if sum_db else da)
    if average == "weights":
        dW_x, dW_h, db = dW_x / batch, dW_h / batch, db / batch
    return da @ p["W_x"], da @ p["W_h"], dW_x, dW_h, db


_AVERAGED = ("did you average over the batch? The loss is a sum over the batch (every sequence's "
             "loss counts in full), so the weight gradients are sums too: dW_x = da^T x, "
             "dW_h = da^T h_{t-1}, db = da.sum(axis=0), with no division by the batch size")

RNN_BACKWARD_MISTAKES = [
    ("the tanh derivative is missing: first da = dh * (1 - h_t**2), then every gradient from da",
     lambda *a: _rnn_backward_variant(*a, deriv="none")),
    ("the tanh derivative uses h_{t-1}: it is 1 - h_t**2, with h_t = tanh(a_t) the step's OUTPUT",
     lambda *a: _rnn_backward_variant(*a, deriv="h_prev")),
    ("the tanh derivative is 1 - h_t**2, not 1 - tanh(h_t)**2: h_t is already tanh(a_t), so "
     "tanh'(a_t) = 1 - tanh(a_t)**2 = 1 - h_t**2",
     lambda *a: _rnn_backward_variant(*a, deriv="tanh_h")),
    ("dW_h multiplies da by h_t: it is da^T h_{t-1}, the state that went INTO the step",
     lambda *a: _rnn_backward_variant(*a, dW_h_uses="h")),
    ("db is not summed over the batch: db = da.sum(axis=0), one entry per hidden unit",
     lambda *a: _rnn_backward_variant(*a, sum_db=False)),
    ("the weight gradients are exactly 1/batch of the expected ones: " + _AVERAGED,
     lambda *a: _rnn_backward_variant(*a, average="weights")),
    ("every gradient is exactly 1/batch of the expected one: " + _AVERAGED,
     lambda *a: _rnn_backward_variant(*a, average="da")),
]


def _rnn_backward_hint(fn, cases):
    args_of = {description: args for description, args, _ in cases}

    def hint(description, got, expected):
        mistake = _known_mistake(fn, cases, RNN_BACKWARD_MISTAKES)
        if mistake:
            return mistake
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return None  # the comparison already says what came back
        arrays = [as_array(g, np.shape(e)) for g, e in zip(got, expected)]
        if any(a is None for a in arrays) or any(is_close(a, e) for a, e in zip(arrays, expected)):
            return None  # some gradient is right: the comparison names the first wrong one
        # All five are wrong, and all five are computed from da = dh * (1 - h**2). Does one
        # wrong da explain them? Solve dh_prev = da' @ W_h for da' and recompute the others.
        dh, x, h_prev, h, p = args_of[description]
        dx, dh_prev, dW_x, dW_h, db = arrays
        da = np.linalg.lstsq(p["W_h"].T, dh_prev.T, rcond=None)[0].T  # (batch, hidden)
        if is_close((da @ p["W_x"], da @ p["W_h"], da.T @ x, da.T @ h_prev, da.sum(axis=0)), tuple(arrays)):
            return ("all five gradients are wrong, and one wrong da explains every one of them: "
                    "the shared line da = dh * (1 - h**2) (the gradient through tanh, with h the "
                    "step's output) is the mistake; the five formulas after it are right")
        return ("all five gradients are wrong: start with the line they share, da = dh * (1 - h**2), "
                "then check each formula against section 3")

    return hint


def check_rnn_step_backward(fn: Callable) -> None:
    """Check a reader's ``rnn_step_backward(dh, x, h_prev, h, params)``.

    Must return (dx, dh_prev, dW_x, dW_h, db) for one step h = tanh(x W_x^T + h_prev W_h^T + b);
    params holds W_x (hidden, input), W_h (hidden, hidden), b (hidden,). The message names the
    gradient that is wrong and, when it recognises it, the mistake.
    """
    cases = []
    for description, seed, sizes in (("batch 2, input 3, hidden 4", 31, (2, 3, 4)),
                                     ("batch 3, input 5, hidden 6", 32, (3, 5, 6))):
        params, x, h_prev, _ = _random_case(RNN, seed, *sizes)
        h = rnn_step(x, h_prev, params)
        dh = np.random.default_rng(seed + 100).standard_normal(h.shape)
        args = (dh, x, h_prev, h, params)
        cases.append((description, args, reference_rnn_step_backward(*args)))
    run = ReaderFunction(fn, "rnn_step_backward", ("dh", "x", "h_prev", "h", "params"))
    check_cases(run, cases, name="rnn_step_backward", compare=compare_tuple(RNN_GRAD_NAMES),
                hint=_rnn_backward_hint(run, cases))


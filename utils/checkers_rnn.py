"""Checkers for the exercises of chapter 01 (RNN basics).

Each checker runs the reader's function on cases built so that one part of the cell can be
told apart from the others: a gate's bias is set to +-30, which pins that gate at 1 or 0
(sigmoid(30) = 1 - 1e-13), so, e.g., a GRU with z = 1 must return h_{t-1} whatever its
candidate is. When a case fails, the message names the gate (or gradient) that looks wrong;
when the output matches a known mistake exactly (z used the wrong way round, the reset gate
applied before W_hn, a missing tanh, ...) it names that mistake.

* :func:`check_gru_step`: ``gru_step(x, h_prev, params) -> h``
* :func:`check_lstm_step`: ``lstm_step(x, h_prev, c_prev, params) -> (h, c)``
* :func:`check_rnn_step_backward`: ``rnn_step_backward(dh, x, h_prev, h, params)
  -> (dx, dh_prev, dW_x, dW_h, db)``

The parameter names are those of ``utils.numpy_rnn`` (``W_xz``, ``b_hn``, ...), and so are the
reference answers (``utils.numpy_rnn.gru_step``, ``lstm_step``, ``rnn_step``).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .checkers import check_cases, compare_arrays
from .numpy_rnn import GRU, LSTM, RNN, gru_step, lstm_step, rnn_step, sigmoid

__all__ = [
    "check_gru_step",
    "check_lstm_step",
    "check_rnn_step_backward",
    "reference_rnn_step_backward",
]

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


def _same(got, expected) -> bool:
    try:
        if isinstance(expected, tuple):
            return (isinstance(got, (tuple, list)) and len(got) == len(expected)
                    and all(_same(g, e) for g, e in zip(got, expected)))
        return compare_arrays(got, expected) is None
    except Exception:  # noqa: BLE001  a diagnosis must never crash the checker
        return False


def _known_mistake(fn: Callable, cases, mistakes) -> str | None:
    """The text of the first known mistake whose outputs ``fn`` reproduces on every case."""
    outputs = []
    for _, args, _ in cases:
        try:
            outputs.append(fn(*args))
        except Exception:  # noqa: BLE001
            return None
    for text, wrong_fn in mistakes:
        if all(_same(got, wrong_fn(*args)) for got, (_, args, _) in zip(outputs, cases)):
            return text
    return None


# --------------------------------------------------------------------------- GRU step
def _gru_variant(x, h_prev, p, *, swap_z=False, reset="after", n_act=np.tanh, swap_rz=False,
                 b_hn_outside=False):
    """A GRU step with one deliberate mistake (used to recognise the reader's)."""
    r_name, z_name = ("z", "r") if swap_rz else ("r", "z")
    r = sigmoid(x @ p[f"W_x{r_name}"].T + h_prev @ p[f"W_h{r_name}"].T + p[f"b_{r_name}"])
    z = sigmoid(x @ p[f"W_x{z_name}"].T + h_prev @ p[f"W_h{z_name}"].T + p[f"b_{z_name}"])
    if reset == "after":
        recurrent = r * (h_prev @ p["W_hn"].T + (0.0 if b_hn_outside else p["b_hn"]))
        recurrent = recurrent + (p["b_hn"] if b_hn_outside else 0.0)
    elif reset == "before":  # Cho et al.'s original formulation
        recurrent = (r * h_prev) @ p["W_hn"].T + p["b_hn"]
    else:  # reset gate not used at all
        recurrent = h_prev @ p["W_hn"].T + p["b_hn"]
    n = n_act(x @ p["W_xn"].T + p["b_xn"] + recurrent)
    if swap_z:
        return z * n + (1.0 - z) * h_prev
    return (1.0 - z) * n + z * h_prev


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
]

# What each diagnostic case isolates, keyed by its description.
_GRU_PART = {
    "z pinned at 1": "update gate z looks wrong: with b_z = +30 (so z_t = 1) the step must return "
                     "h_{t-1} unchanged (h_t = (1 - z_t) * n_t + z_t * h_{t-1}); does z_t use b_z?",
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


def check_gru_step(fn: Callable) -> None:
    """Check a reader's ``gru_step(x, h_prev, params) -> h``.

    x (batch, input), h_prev (batch, hidden), params the dict of ``utils.GRU`` (W_xr, W_hr,
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
    _check_with_diagnosis(fn, cases, "gru_step", GRU_MISTAKES, _GRU_PART)


def _check_with_diagnosis(fn, cases, name, mistakes, parts, compare=None) -> None:
    def hint(description, got, expected):
        mistake = _known_mistake(fn, cases, mistakes)
        if mistake:
            return mistake
        return parts.get(description.split(",")[0] if description.startswith("general") else description)

    check_cases(fn, cases, name=name, hint=hint, compare=compare)


# --------------------------------------------------------------------------- LSTM step
def _lstm_variant(x, h_prev, c_prev, p, *, one_minus_f=False, tanh_c=True, g_act=np.tanh,
                  swap_if=False, h_from_prev_c=False, coupled=False):
    """An LSTM step with one deliberate mistake."""
    def gate(name, act=sigmoid):
        return act(x @ p[f"W_x{name}"].T + h_prev @ p[f"W_h{name}"].T + p[f"b_{name}"])

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
]

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


def check_lstm_step(fn: Callable) -> None:
    """Check a reader's ``lstm_step(x, h_prev, c_prev, params) -> (h, c)``.

    x (batch, input), h_prev and c_prev (batch, hidden), params the dict of ``utils.LSTM``
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

    def compare(got, expected):
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            return f"expected a tuple (h_t, c_t), got {type(got).__name__}"
        problem = compare_arrays(got[1], expected[1])
        if problem:
            return f"the cell state c_t (second output) is wrong: {problem}"
        problem = compare_arrays(got[0], expected[0])
        if problem:
            return f"c_t is right but h_t (first output) is wrong: {problem}"
        return None

    def hint(description, got, expected):
        mistake = _known_mistake(fn, cases, LSTM_MISTAKES)
        if mistake:
            return mistake
        c_right = isinstance(got, (tuple, list)) and len(got) == 2 and _same(got[1], expected[1])
        if not c_right:
            return _LSTM_CELL_PART.get(description, _LSTM_FORGET_VALUE)
        # c_t is right, so h_t = o_t * tanh(c_t) is wrong: is it o, or what o multiplies?
        _, o_pinned_args, o_pinned_expected = cases[3]
        try:
            h_right_with_o_pinned = _same(fn(*o_pinned_args)[0], o_pinned_expected[0])
        except Exception:  # noqa: BLE001
            h_right_with_o_pinned = False
        if h_right_with_o_pinned:
            return ("output gate o looks wrong: c_t is right, and h_t is right when o is pinned "
                    "at 1, so o_t = sigmoid(W_xo x_t + W_ho h_{t-1} + b_o) is off")
        return ("h_t = o_t * tanh(c_t) looks wrong: with b_o = +30 (so o_t = 1) h_t must equal "
                "tanh(c_t); does o_t use b_o, and does h_t multiply it by tanh(c_t)?")

    check_cases(fn, cases, name="lstm_step", compare=compare, hint=hint)


# --------------------------------------------------------------------------- RNN backward
def reference_rnn_step_backward(dh, x, h_prev, h, params):
    """Backward of one step h = tanh(x W_x^T + h_prev W_h^T + b).

    dh (batch, hidden): dL/dh_t. Returns (dx (batch, input), dh_prev (batch, hidden),
    dW_x (hidden, input), dW_h (hidden, hidden), db (hidden,)).
    """
    da = dh * (1.0 - h**2)  # (batch, hidden): through tanh, whose derivative is 1 - tanh^2
    return da @ params["W_x"], da @ params["W_h"], da.T @ x, da.T @ h_prev, da.sum(axis=0)


RNN_GRAD_NAMES = ("dx", "dh_prev", "dW_x", "dW_h", "db")


def _rnn_backward_variant(dh, x, h_prev, h, p, *, deriv="h", dW_h_uses="h_prev", sum_db=True):
    if deriv == "h":
        da = dh * (1.0 - h**2)
    elif deriv == "h_prev":
        da = dh * (1.0 - h_prev**2)
    else:  # forgot the tanh derivative
        da = dh
    dW_h = da.T @ (h_prev if dW_h_uses == "h_prev" else h)
    return da @ p["W_x"], da @ p["W_h"], da.T @ x, dW_h, da.sum(axis=0) if sum_db else da


RNN_BACKWARD_MISTAKES = [
    ("the tanh derivative is missing: first da = dh * (1 - h_t**2), then every gradient from da",
     lambda *a: _rnn_backward_variant(*a, deriv="none")),
    ("the tanh derivative uses h_{t-1}: it is 1 - h_t**2, with h_t = tanh(a_t) the step's OUTPUT",
     lambda *a: _rnn_backward_variant(*a, deriv="h_prev")),
    ("dW_h multiplies da by h_t: it is da^T h_{t-1}, the state that went INTO the step",
     lambda *a: _rnn_backward_variant(*a, dW_h_uses="h")),
    ("db is not summed over the batch: db = da.sum(axis=0), one entry per hidden unit",
     lambda *a: _rnn_backward_variant(*a, sum_db=False)),
]


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

    def compare(got, expected):
        if not isinstance(got, (tuple, list)) or len(got) != 5:
            return f"expected a tuple of 5 arrays {RNN_GRAD_NAMES}, got {type(got).__name__}" + (
                f" of length {len(got)}" if isinstance(got, (tuple, list)) else "")
        for name, g, e in zip(RNN_GRAD_NAMES, got, expected):
            problem = compare_arrays(g, e)
            if problem:
                if np.shape(g) != np.shape(e):
                    return (f"{name} has shape {np.shape(g)} but must have shape {np.shape(e)}, the "
                            f"shape of what it is the gradient of")
                return f"{name} is wrong: {problem}"
        return None

    def hint(description, got, expected):
        return _known_mistake(fn, cases, RNN_BACKWARD_MISTAKES)

    check_cases(fn, cases, name="rnn_step_backward", compare=compare, hint=hint)


"""Checker for chapter 01's exercise on the backward pass of one LSTM step (with or without peepholes).

The reader writes ``lstm_step_backward(dh, dc_next, x, h_prev, c_prev, params)`` and returns the
gradients of the loss with respect to the four gate pre-activations and to the two states that
went into the step:

    (da_f, da_i, da_g, da_o, dc_prev, dh_prev), each (batch, hidden)

* ``dh`` is :math:`\\delta h_t`, everything that reaches :math:`h_t` (the loss at step t plus
  what flows back from step t+1 through the recurrent weights), ``(batch, hidden)``;
* ``dc_next`` is what reaches :math:`c_t` along the cell path from step t+1:
  :math:`\\delta c_{t+1} \\odot f_{t+1}` (plus step t+1's peephole terms), ``(batch, hidden)``;
  this is the variable ``dc_next`` of ``utils.scratch.rnn.LSTM.backward``;
* ``params`` holds the LSTM's parameters (``W_xf``, ``W_hf``, ``b_f``, ... of
  ``utils.scratch.rnn``) and, for a peephole LSTM, the peephole vectors ``w_cf``, ``w_ci``, ``w_co``.

The answer is the loop body of ``utils.scratch.rnn.LSTM.backward`` for one step. When the
reader's outputs match a known mistake exactly on every case (the path from step t+1 missing,
tanh' of the wrong quantity, a forgotten peephole term, ...), the message names that mistake;
otherwise it names the first wrong output and where to look.

* :func:`check_lstm_step_backward`
* :func:`reference_lstm_step_backward`: the reference answer (for tests; a chapter never shows it
  before the exercise)
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..scratch.rnn import LSTM, PeepholeLSTM, sigmoid
from .core import ReaderFunction, as_array, check_cases, compare_tuple, is_close
from .rnn import _known_mistake, _random_case

__all__ = [
    "check_lstm_step_backward",
    "reference_lstm_step_backward",
    "LSTM_BACKWARD_MISTAKES",
    "LSTM_GRAD_NAMES",
]

#: What ``lstm_step_backward`` returns, in order.
LSTM_GRAD_NAMES = ("da_f", "da_i", "da_g", "da_o", "dc_prev", "dh_prev")
# da_o needs no cell gradient, so it is compared first: when it is right and da_f is not, the
# message points at dc.
_CHECK_ORDER = (3, 0, 1, 2, 4, 5)


def _lstm_backward_variant(dh, dc_next, x, h_prev, c_prev, p, *, from_next=True, through_f=True,
                           tanh_of="c", with_o=True, sigmoid_deriv=True, g_deriv="tanh",
                           f_reads="c_prev", peep_co=True, peep_cf=True, peep_ci=True,
                           co_into="dc", transposed=False):
    """The backward of one LSTM step, with at most one deliberate mistake (the defaults are right).

    Every keyword names a place where a reader can go wrong; see LSTM_BACKWARD_MISTAKES.
    """
    peephole = "w_cf" in p
    # forward again: the gates (batch, hidden)
    a_f = x @ p["W_xf"].T + h_prev @ p["W_hf"].T + p["b_f"]
    a_i = x @ p["W_xi"].T + h_prev @ p["W_hi"].T + p["b_i"]
    if peephole:
        a_f = a_f + p["w_cf"] * c_prev
        a_i = a_i + p["w_ci"] * c_prev
    f, i = sigmoid(a_f), sigmoid(a_i)
    g = np.tanh(x @ p["W_xg"].T + h_prev @ p["W_hg"].T + p["b_g"])
    c = f * c_prev + i * g
    a_o = x @ p["W_xo"].T + h_prev @ p["W_ho"].T + p["b_o"]
    if peephole:
        a_o = a_o + p["w_co"] * c
    o = sigmoid(a_o)
    tanh_c = np.tanh(c)

    def sig_deriv(s):
        return s * (1.0 - s) if sigmoid_deriv else 1.0

    # h_t = o_t * tanh(c_t)
    da_o = dh * tanh_c * sig_deriv(o)
    squashed = {"c": tanh_c, "raw_c": c, "h": o * tanh_c, "c_prev": np.tanh(c_prev)}[tanh_of]
    dc = (dc_next if from_next else 0.0) + dh * (o if with_o else 1.0) * (1.0 - squashed**2)
    if peephole and peep_co and co_into == "dc":  # o_t reads c_t
        dc = dc + da_o * p["w_co"]
    # c_t = f_t * c_{t-1} + i_t * g_t
    da_f = dc * (c_prev if f_reads == "c_prev" else c) * sig_deriv(f)
    da_i = dc * g * sig_deriv(i)
    da_g = dc * i * ((1.0 - g**2) if g_deriv == "tanh" else g * (1.0 - g))
    dc_prev = dc * f if through_f else dc
    if peephole:  # f_t and i_t read c_{t-1}
        dc_prev = dc_prev + (da_f * p["w_cf"] if peep_cf else 0.0) + (da_i * p["w_ci"] if peep_ci else 0.0)
        if peep_co and co_into == "dc_prev":
            dc_prev = dc_prev + da_o * p["w_co"]
    dh_prev = sum((da @ p[f"W_h{gate}"].T if transposed else da @ p[f"W_h{gate}"])
                  for gate, da in (("f", da_f), ("i", da_i), ("g", da_g), ("o", da_o)))
    return da_f, da_i, da_g, da_o, dc_prev, dh_prev


def reference_lstm_step_backward(dh, dc_next, x, h_prev, c_prev, params):
    """Gradients of one LSTM step (peepholes when ``params`` has ``w_cf``, ``w_ci``, ``w_co``).

    dh, dc_next (batch, hidden): what reaches h_t and (along the cell path) c_t from later.
    Returns (da_f, da_i, da_g, da_o, dc_prev, dh_prev), each (batch, hidden).
    """
    return _lstm_backward_variant(dh, dc_next, x, h_prev, c_prev, params)


def _variant(**mistake):
    return lambda *args: _lstm_backward_variant(*args, **mistake)


_DC = "dc = dc_next + dh * o * (1 - tanh(c)**2)"
LSTM_BACKWARD_MISTAKES = [
    ("the cell gradient is missing the path from step t+1: dc must start from dc_next "
     "(= dc_{t+1} * f_{t+1}, what comes back along the cell state), " + _DC,
     _variant(from_next=False)),
    ("dc_prev is missing the factor f_t: c_t = f_t * c_{t-1} + i_t * g_t, so the cell path "
     "carries dc back as dc * f (the same f_{t+1} factor the formula for dc_t has, one step earlier)",
     _variant(through_f=False)),
    ("tanh' of the wrong quantity: h_t = o_t * tanh(c_t), so the derivative is 1 - tanh(c_t)**2; "
     "you used 1 - c_t**2 (c_t is not squashed, tanh(c_t) is)",
     _variant(tanh_of="raw_c")),
    ("tanh' of the wrong quantity: h_t = o_t * tanh(c_t), so the derivative is 1 - tanh(c_t)**2; "
     "you used 1 - h_t**2 (that is the vanilla RNN's rule, where h_t = tanh(a_t); here h_t also "
     "carries o_t)",
     _variant(tanh_of="h")),
    ("tanh' of the wrong quantity: h_t = o_t * tanh(c_t) reads the NEW cell c_t, so the "
     "derivative is 1 - tanh(c_t)**2, not 1 - tanh(c_{t-1})**2",
     _variant(tanh_of="c_prev")),
    ("the path h_t -> c_t is missing the factor o_t: h_t = o_t * tanh(c_t), so " + _DC,
     _variant(with_o=False)),
    ("the sigmoid derivative is missing: a gate s = sigmoid(a) passes ds * s * (1 - s) to its "
     "pre-activation a (for f, i and o)",
     _variant(sigmoid_deriv=False)),
    ("the candidate g_t is a tanh, not a sigmoid: da_g = dc * i * (1 - g**2)",
     _variant(g_deriv="sigmoid")),
    ("da_f uses c_t: c_t = f_t * c_{t-1} + ..., so f_t is multiplied by the OLD cell, "
     "da_f = dc * c_prev * f * (1 - f)",
     _variant(f_reads="c")),
    ("every peephole term is missing: o_t reads c_t, so dc gains da_o * w_co; f_t and i_t read "
     "c_{t-1}, so dc_prev gains da_f * w_cf + da_i * w_ci",
     _variant(peep_co=False, peep_cf=False, peep_ci=False)),
    ("the output gate's peephole term is missing: o_t reads c_t through w_co, so dc gains "
     "da_o * w_co (before da_f, da_i, da_g are computed from dc)",
     _variant(peep_co=False)),
    ("the peephole term da_o * w_co belongs to dc (o_t reads the NEW cell c_t), not to dc_prev",
     _variant(co_into="dc_prev")),
    ("dc_prev is missing both peephole terms: f_t and i_t read c_{t-1}, so dc_prev gains "
     "da_f * w_cf + da_i * w_ci",
     _variant(peep_cf=False, peep_ci=False)),
    ("dc_prev is missing the forget gate's peephole term da_f * w_cf (f_t reads c_{t-1})",
     _variant(peep_cf=False)),
    ("dc_prev is missing the input gate's peephole term da_i * w_ci (i_t reads c_{t-1})",
     _variant(peep_ci=False)),
    ("the recurrent weights look transposed in dh_prev: the forward computes h_prev @ W_h?.T, "
     "so the gradient is da @ W_h? (no .T); W_h? is square, so the wrong one runs without error",
     _variant(transposed=True)),
]


def _make_cases():
    cases = []
    for description, cls, seed, sizes in (
            ("LSTM, batch 2, input 3, hidden 4", LSTM, 41, (2, 3, 4)),
            ("peephole LSTM, batch 3, input 5, hidden 6", PeepholeLSTM, 42, (3, 5, 6))):
        params, x, h_prev, c_prev = _random_case(cls, seed, *sizes)
        rng = np.random.default_rng(seed + 100)
        dh = rng.standard_normal(h_prev.shape)
        dc_next = rng.standard_normal(c_prev.shape)
        args = (dh, dc_next, x, h_prev, c_prev, params)
        cases.append((description, args, reference_lstm_step_backward(*args)))
    return cases


def _hint(run, cases):
    def hint(description, got, expected):
        mistake = _known_mistake(run, cases, LSTM_BACKWARD_MISTAKES)
        if mistake:
            return mistake
        arrays = [as_array(g, np.shape(e)) for g, e in zip(got, expected)]
        if any(a is None for a in arrays):
            return None  # the comparison already says what came back
        right = {name for name, a, e in zip(LSTM_GRAD_NAMES, arrays, expected) if is_close(a, e)}
        peephole = description.startswith("peephole")
        if "da_o" in right and not {"da_f", "da_i", "da_g"} & right:
            return ("da_o is right but da_f, da_i and da_g are not: they share the cell gradient, "
                    f"{_DC}" + (" + da_o * w_co" if peephole else "") + "; check that line")
        if {"da_f", "da_i", "da_g", "da_o"} <= right and "dc_prev" not in right:
            return ("the gate gradients are right, so dc is right: dc_prev = dc * f"
                    + (" + da_f * w_cf + da_i * w_ci" if peephole else ""))
        if {"da_f", "da_i", "da_g", "da_o"} <= right and "dh_prev" not in right:
            return "dh_prev collects every gate: da_f @ W_hf + da_i @ W_hi + da_g @ W_hg + da_o @ W_ho"
        return None

    return hint


def check_lstm_step_backward(fn: Callable) -> None:
    """Check a reader's ``lstm_step_backward(dh, dc_next, x, h_prev, c_prev, params)``.

    Must return (da_f, da_i, da_g, da_o, dc_prev, dh_prev), each (batch, hidden), for one LSTM
    step, with the peephole terms when params has w_cf, w_ci, w_co. One case is a plain LSTM,
    one a peephole LSTM. The message names the first wrong output and, when it recognises it,
    the mistake.
    """
    cases = _make_cases()
    run = ReaderFunction(fn, "lstm_step_backward", ("dh", "dc_next", "x", "h_prev", "c_prev", "params"))
    check_cases(run, cases, name="lstm_step_backward", compare=compare_tuple(LSTM_GRAD_NAMES, _CHECK_ORDER),
                hint=_hint(run, cases))

"""utils.checkers_rnn: each checker accepts the reference and names what is wrong otherwise."""
import numpy as np
import pytest

from utils.checkers import CheckFailed
from utils.checkers_rnn import (
    check_gru_step,
    check_lstm_step,
    check_rnn_step_backward,
    reference_rnn_step_backward,
)
from utils.numpy_rnn import gru_step, lstm_step, sigmoid


def _gate(p, name, x, h, act=sigmoid, recurrent=True, bias=True):
    a = x @ p[f"W_x{name}"].T
    if recurrent:
        a = a + h @ p[f"W_h{name}"].T
    if bias:
        a = a + p[f"b_{name}"]
    return act(a)


def _gru(x, h, p, *, z_recurrent=True, r_recurrent=True, swap_z=False, reset="after", n_act=np.tanh):
    r = _gate(p, "r", x, h, recurrent=r_recurrent)
    z = _gate(p, "z", x, h, recurrent=z_recurrent)
    if reset == "after":
        n = n_act(x @ p["W_xn"].T + p["b_xn"] + r * (h @ p["W_hn"].T + p["b_hn"]))
    else:
        n = n_act(x @ p["W_xn"].T + p["b_xn"] + (r * h) @ p["W_hn"].T + p["b_hn"])
    return z * n + (1 - z) * h if swap_z else (1 - z) * n + z * h


def _lstm(x, h, c, p, *, one_minus_f=False, tanh_c=True, f_recurrent=True, i_recurrent=True, o_bias=True,
          o_recurrent=True):
    f = _gate(p, "f", x, h, recurrent=f_recurrent)
    i = _gate(p, "i", x, h, recurrent=i_recurrent)
    g = _gate(p, "g", x, h, act=np.tanh)
    o = _gate(p, "o", x, h, bias=o_bias, recurrent=o_recurrent)
    if one_minus_f:
        f = 1 - f
    c_new = f * c + i * g
    return o * (np.tanh(c_new) if tanh_c else c_new), c_new


def _fails_with(checker, fn, *phrases):
    with pytest.raises(CheckFailed) as info:
        checker(fn)
    message = str(info.value)
    for phrase in phrases:
        assert phrase in message, message
    return message


def test_gru_checker_accepts_reference_and_a_rewrite(capsys):
    check_gru_step(gru_step)
    check_gru_step(lambda x, h, p: _gru(x, h, p))
    assert "all 6 cases pass" in capsys.readouterr().out


def test_gru_checker_names_known_mistakes():
    _fails_with(check_gru_step, lambda x, h, p: _gru(x, h, p, swap_z=True),
                "case 'z pinned at 1'", "update gate z is used the wrong way round")
    _fails_with(check_gru_step, lambda x, h, p: _gru(x, h, p, reset="before"),
                "reset gate r is applied to h_{t-1} before W_hn")
    _fails_with(check_gru_step, lambda x, h, p: _gru(x, h, p, n_act=sigmoid),
                "candidate n uses a sigmoid")


def test_gru_checker_names_the_gate_of_unknown_mistakes():
    _fails_with(check_gru_step, lambda x, h, p: _gru(x, h, p, z_recurrent=False),
                "case 'general'", "update gate z looks wrong")
    _fails_with(check_gru_step, lambda x, h, p: _gru(x, h, p, r_recurrent=False),
                "case 'z pinned at 0'", "reset gate r looks wrong")
    _fails_with(check_gru_step, lambda x, h, p: _gru(x, h, p) + 0.1, "update gate z looks wrong: with b_z = +30")


def test_gru_checker_reports_errors_and_shapes():
    def transposed(x, h, p):
        return sigmoid(x @ p["W_xr"])  # (batch, input) @ (hidden, input): shapes do not fit
    _fails_with(check_gru_step, transposed, "raised ValueError")
    _fails_with(check_gru_step, lambda x, h, p: gru_step(x, h, p)[0], "expected shape")

    def not_done(x, h, p):
        raise NotImplementedError
    _fails_with(check_gru_step, not_done, "not implemented yet")


def test_lstm_checker_accepts_reference(capsys):
    check_lstm_step(lstm_step)
    check_lstm_step(lambda x, h, c, p: _lstm(x, h, c, p))
    assert "lstm_step: all 6 cases pass" in capsys.readouterr().out


def test_lstm_checker_names_the_problem():
    _fails_with(check_lstm_step, lambda x, h, c, p: _lstm(x, h, c, p, one_minus_f=True),
                "forget gate f is used the wrong way round")
    _fails_with(check_lstm_step, lambda x, h, c, p: _lstm(x, h, c, p, tanh_c=False),
                "c_t is right but h_t", "the tanh on the cell state is missing")
    _fails_with(check_lstm_step, lambda x, h, c, p: _lstm(x, h, c, p, o_recurrent=False),
                "c_t is right but h_t", "output gate o looks wrong")
    _fails_with(check_lstm_step, lambda x, h, c, p: _lstm(x, h, c, p, o_bias=False),
                "c_t is right but h_t", "does o_t use b_o")
    _fails_with(check_lstm_step, lambda x, h, c, p: _lstm(x, h, c, p, i_recurrent=False),
                "case 'f pinned at 0'", "input gate i looks wrong")
    _fails_with(check_lstm_step, lambda x, h, c, p: _lstm(x, h, c, p, f_recurrent=False),
                "the cell state c_t (second output) is wrong", "forget gate f looks wrong")
    _fails_with(check_lstm_step, lambda x, h, c, p: _lstm(x, h, c, p)[0], "expected a tuple (h_t, c_t)")


def test_rnn_backward_checker(capsys):
    check_rnn_step_backward(reference_rnn_step_backward)
    assert "all 2 cases pass" in capsys.readouterr().out

    def no_tanh_derivative(dh, x, h_prev, h, p):
        return dh @ p["W_x"], dh @ p["W_h"], dh.T @ x, dh.T @ h_prev, dh.sum(0)
    _fails_with(check_rnn_step_backward, no_tanh_derivative, "dx is wrong", "tanh derivative is missing")

    def dW_h_with_h(dh, x, h_prev, h, p):
        da = dh * (1 - h**2)
        return da @ p["W_x"], da @ p["W_h"], da.T @ x, da.T @ h, da.sum(0)
    _fails_with(check_rnn_step_backward, dW_h_with_h, "dW_h is wrong", "state that went INTO the step")

    def transposed_dW_x(dh, x, h_prev, h, p):
        dx, dh_prev, dW_x, dW_h, db = reference_rnn_step_backward(dh, x, h_prev, h, p)
        return dx, dh_prev, dW_x.T, dW_h, db
    _fails_with(check_rnn_step_backward, transposed_dW_x, "dW_x has shape (3, 4) but must have shape (4, 3)")

    _fails_with(check_rnn_step_backward, lambda *a: reference_rnn_step_backward(*a)[:4], "tuple of 5 arrays")

"""utils.checkers.rnn: each checker accepts the reference and names what is wrong otherwise."""
import numpy as np
import pytest

from utils.checkers.core import CheckFailed
from utils.checkers.rnn import (
    check_gru_step,
    check_lstm_step,
    check_rnn_step_backward,
    reference_rnn_step_backward,
)
from utils.scratch.rnn import gru_step, lstm_step, sigmoid


def _gate(p, name, x, h, act=sigmoid, recurrent=True, bias=True, transposed=False):
    a = x @ p[f"W_x{name}"].T
    if recurrent:  # transposed: the tempting h @ W_h (square, so no shape error)
        a = a + (h @ p[f"W_h{name}"] if transposed else h @ p[f"W_h{name}"].T)
    if bias:
        a = a + p[f"b_{name}"]
    return act(a)


def _gru(x, h, p, *, z_recurrent=True, r_recurrent=True, z_bias=True, swap_z=False, reset="after",
         n_act=np.tanh, transposed=False, r_in_update=False):
    r = _gate(p, "r", x, h, recurrent=r_recurrent, transposed=transposed)
    z = _gate(p, "z", x, h, recurrent=z_recurrent, bias=z_bias, transposed=transposed)
    W_hn = p["W_hn"] if transposed else p["W_hn"].T
    if reset == "after":
        n = n_act(x @ p["W_xn"].T + p["b_xn"] + r * (h @ W_hn + p["b_hn"]))
    else:
        n = n_act(x @ p["W_xn"].T + p["b_xn"] + (r * h) @ W_hn + p["b_hn"])
    kept = r * h if r_in_update else h
    return z * n + (1 - z) * kept if swap_z else (1 - z) * n + z * kept


def _lstm(x, h, c, p, *, one_minus_f=False, tanh_c=True, f_recurrent=True, i_recurrent=True, o_bias=True,
          o_recurrent=True, transposed=""):
    """transposed: the gates (a string like "fo") whose W_h is used without .T."""
    f = _gate(p, "f", x, h, recurrent=f_recurrent, transposed="f" in transposed)
    i = _gate(p, "i", x, h, recurrent=i_recurrent, transposed="i" in transposed)
    g = _gate(p, "g", x, h, act=np.tanh, transposed="g" in transposed)
    o = _gate(p, "o", x, h, bias=o_bias, recurrent=o_recurrent, transposed="o" in transposed)
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


def test_gru_checker_names_transposed_recurrent_weights():
    """h @ W_h instead of h @ W_h.T: square, so no shape error; the checker must not blame n."""
    message = _fails_with(check_gru_step, lambda x, h, p: _gru(x, h, p, transposed=True),
                          "the recurrent weights look transposed (W_hr, W_hz, W_hn)")
    assert "candidate" not in message.split("hint:")[1]


def test_gru_checker_names_the_reset_gate_in_the_update():
    message = _fails_with(check_gru_step, lambda x, h, p: _gru(x, h, p, r_in_update=True),
                          "case 'z pinned at 1'", "the reset gate r multiplies h_{t-1} in the update")
    assert "does z_t use b_z" not in message


def test_gru_checker_names_the_gate_of_unknown_mistakes():
    _fails_with(check_gru_step, lambda x, h, p: _gru(x, h, p, z_recurrent=False),
                "case 'general'", "update gate z looks wrong")
    _fails_with(check_gru_step, lambda x, h, p: _gru(x, h, p, r_recurrent=False),
                "case 'z pinned at 0'", "reset gate r looks wrong")
    _fails_with(check_gru_step, lambda x, h, p: _gru(x, h, p, z_bias=False),
                "case 'z pinned at 1'", "update gate z looks wrong: with b_z = +30", "does z_t use b_z")


def test_gru_checker_does_not_blame_a_gate_that_cannot_explain_the_output():
    """A constant added to h_t: no value of z (or r, or n) gives it, so no gate is blamed."""
    message = _fails_with(check_gru_step, lambda x, h, p: _gru(x, h, p) + 0.1,
                          "case 'z pinned at 1'", "expected:", "got:",
                          "no single gate explains the difference between expected and got")
    assert "update gate z looks wrong" not in message


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
                "c_t is right, but h_t (first output) is wrong", "the tanh on the cell state is missing")
    _fails_with(check_lstm_step, lambda x, h, c, p: _lstm(x, h, c, p, o_recurrent=False),
                "c_t is right, but h_t (first output) is wrong", "output gate o looks wrong")
    _fails_with(check_lstm_step, lambda x, h, c, p: _lstm(x, h, c, p, o_bias=False),
                "c_t is right, but h_t (first output) is wrong", "does o_t use b_o")
    _fails_with(check_lstm_step, lambda x, h, c, p: _lstm(x, h, c, p, i_recurrent=False),
                "case 'f pinned at 0'", "input gate i looks wrong")
    _fails_with(check_lstm_step, lambda x, h, c, p: _lstm(x, h, c, p, f_recurrent=False),
                "c_t (second output) is wrong", "forget gate f looks wrong")
    _fails_with(check_lstm_step, lambda x, h, c, p: _lstm(x, h, c, p)[0], "expected a tuple (h_t, c_t)")


def test_lstm_checker_names_swapped_outputs():
    message = _fails_with(check_lstm_step, lambda x, h, c, p: _lstm(x, h, c, p)[::-1],
                          "the two outputs are swapped", "return (h_t, c_t)")
    assert "forget gate" not in message


def test_lstm_checker_names_transposed_recurrent_weights():
    message = _fails_with(check_lstm_step, lambda x, h, c, p: _lstm(x, h, c, p, transposed="figo"),
                          "the recurrent weights look transposed (W_hf, W_hi, W_hg, W_ho)")
    assert "b_o" not in message.split("hint:")[1]
    _fails_with(check_lstm_step, lambda x, h, c, p: _lstm(x, h, c, p, transposed="o"),
                "c_t is right, but h_t (first output) is wrong", "the recurrent weights look transposed (W_ho)")


def test_lstm_checker_does_not_blame_a_gate_that_cannot_explain_the_output():
    def c_plus(x, h, c, p):
        h_new, c_new = _lstm(x, h, c, p)
        return h_new, c_new + 0.5
    message = _fails_with(check_lstm_step, c_plus, "c_t (second output) is wrong",
                          "no single gate explains the difference", "c_t = f_t * c_{t-1} + i_t * g_t")
    assert "forget gate f looks wrong" not in message

    def h_plus(x, h, c, p):
        h_new, c_new = _lstm(x, h, c, p)
        return h_new + 0.5, c_new
    message = _fails_with(check_lstm_step, h_plus, "c_t is right, but h_t (first output) is wrong",
                          "no single gate explains the difference", "h_t = o_t * tanh(c_t)")
    assert "output gate o looks wrong" not in message


def test_rnn_backward_checker(capsys):
    check_rnn_step_backward(reference_rnn_step_backward)
    assert "all 2 cases pass" in capsys.readouterr().out

    def no_tanh_derivative(dh, x, h_prev, h, p):
        return dh @ p["W_x"], dh @ p["W_h"], dh.T @ x, dh.T @ h_prev, dh.sum(0)
    _fails_with(check_rnn_step_backward, no_tanh_derivative, "dx (first output) is wrong", "tanh derivative is missing")

    def dW_h_with_h(dh, x, h_prev, h, p):
        da = dh * (1 - h**2)
        return da @ p["W_x"], da @ p["W_h"], da.T @ x, da.T @ h, da.sum(0)
    _fails_with(check_rnn_step_backward, dW_h_with_h, "dW_h (fourth output) is wrong", "state that went INTO the step")

    def transposed_dW_x(dh, x, h_prev, h, p):
        dx, dh_prev, dW_x, dW_h, db = reference_rnn_step_backward(dh, x, h_prev, h, p)
        return dx, dh_prev, dW_x.T, dW_h, db
    _fails_with(check_rnn_step_backward, transposed_dW_x,
                "dW_x (third output) has shape (3, 4) but must have shape (4, 3)")

    _fails_with(check_rnn_step_backward, lambda *a: reference_rnn_step_backward(*a)[:4],
                "expected a tuple (dx, dh_prev, dW_x, dW_h, db), got tuple of length 4")


def test_rnn_backward_checker_names_averaging_over_the_batch():
    def averaged_weights(dh, x, h_prev, h, p):
        dx, dh_prev, dW_x, dW_h, db = reference_rnn_step_backward(dh, x, h_prev, h, p)
        batch = x.shape[0]
        return dx, dh_prev, dW_x / batch, dW_h / batch, db / batch
    _fails_with(check_rnn_step_backward, averaged_weights, "dW_x (third output) is wrong",
                "exactly 1/batch", "did you average over the batch? The loss is a sum")

    def averaged_da(dh, x, h_prev, h, p):
        da = dh * (1 - h**2) / x.shape[0]
        return da @ p["W_x"], da @ p["W_h"], da.T @ x, da.T @ h_prev, da.sum(0)
    _fails_with(check_rnn_step_backward, averaged_da, "did you average over the batch?")


def test_rnn_backward_checker_names_tanh_applied_twice():
    def tanh_of_h(dh, x, h_prev, h, p):
        da = dh * (1 - np.tanh(h) ** 2)  # h is already tanh(a)
        return da @ p["W_x"], da @ p["W_h"], da.T @ x, da.T @ h_prev, da.sum(0)
    _fails_with(check_rnn_step_backward, tanh_of_h, "dx (first output) is wrong", "not 1 - tanh(h_t)**2",
                "h_t is already tanh(a_t)")


def test_rnn_backward_checker_points_at_the_shared_da():
    def wrong_da(dh, x, h_prev, h, p):
        da = dh * (1 - h) ** 2  # a wrong derivative no known mistake covers
        return da @ p["W_x"], da @ p["W_h"], da.T @ x, da.T @ h_prev, da.sum(0)
    _fails_with(check_rnn_step_backward, wrong_da, "dx (first output) is wrong",
                "one wrong da explains every one of them", "da = dh * (1 - h**2)")

    def all_off(dh, x, h_prev, h, p):  # every gradient wrong, but not through one da
        return tuple(g + 0.01 for g in reference_rnn_step_backward(dh, x, h_prev, h, p))
    message = _fails_with(check_rnn_step_backward, all_off, "all five gradients are wrong: start with")
    assert "one wrong da explains" not in message

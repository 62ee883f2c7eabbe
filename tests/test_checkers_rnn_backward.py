"""utils.checkers.rnn_backward: the reference is the LSTM layers' own BPTT step, the checker accepts
it and names the mistakes a reader makes (written here independently of the checker's catalogue)."""
import numpy as np
import pytest

from utils.checkers.core import CheckFailed
from utils.checkers.rnn_backward import (
    LSTM_BACKWARD_MISTAKES,
    check_lstm_step_backward,
    reference_lstm_step_backward,
)
from utils.scratch.rnn import LSTM, PeepholeLSTM, lstm_step, sigmoid


@pytest.mark.parametrize("cls", [LSTM, PeepholeLSTM])
def test_reference_steps_chained_equal_the_layers_bptt(cls):
    """Run the reference step from t = T down to 1, accumulating the weight gradients as the layer
    does: every gradient, dh0 and dc0 equal LSTM.backward's / PeepholeLSTM.backward's."""
    rng = np.random.default_rng(0)
    layer = cls(3, 5, rng=1)
    for p in layer.params.values():
        p *= 2.0  # gates away from 0.5
    x = rng.standard_normal((2, 4, 3))  # (batch, T, input)
    hs = layer.forward(x)
    dh_all = rng.standard_normal(hs.shape)
    layer.backward(dh_all)
    cs = np.concatenate([np.zeros((2, 1, 5)), layer.cs], axis=1)
    hs = np.concatenate([np.zeros((2, 1, 5)), hs], axis=1)
    grads = {k: np.zeros_like(v) for k, v in layer.params.items()}
    dh_next, dc_next = np.zeros((2, 5)), np.zeros((2, 5))
    for t in reversed(range(4)):
        da_f, da_i, da_g, da_o, dc_next, dh_next = reference_lstm_step_backward(
            dh_all[:, t] + dh_next, dc_next, x[:, t], hs[:, t], cs[:, t], layer.params)
        for gate, da in (("f", da_f), ("i", da_i), ("g", da_g), ("o", da_o)):
            grads[f"W_x{gate}"] += da.T @ x[:, t]
            grads[f"W_h{gate}"] += da.T @ hs[:, t]
            grads[f"b_{gate}"] += da.sum(axis=0)
        if cls is PeepholeLSTM:
            grads["w_cf"] += (da_f * cs[:, t]).sum(axis=0)
            grads["w_ci"] += (da_i * cs[:, t]).sum(axis=0)
            grads["w_co"] += (da_o * cs[:, t + 1]).sum(axis=0)
    for k in grads:
        np.testing.assert_allclose(grads[k], layer.grads[k], atol=1e-12, err_msg=k)
    np.testing.assert_allclose(dh_next, layer.dh0, atol=1e-12)
    np.testing.assert_allclose(dc_next, layer.dc0, atol=1e-12)


def test_reference_matches_central_differences():
    """Batch 1: dL/db_f is da_f itself, and dL/dc_prev, dL/dh_prev are direct; L = dh.h + dc_next.c."""
    rng = np.random.default_rng(3)
    params = {k: 2 * v for k, v in PeepholeLSTM(3, 4, rng=4).params.items()}
    x, h_prev, c_prev = rng.standard_normal((1, 3)), rng.standard_normal((1, 4)), rng.standard_normal((1, 4))
    dh, dc_next = rng.standard_normal((1, 4)), rng.standard_normal((1, 4))

    def loss(p=params, h=h_prev, c=c_prev):
        h_t, c_t = lstm_step(x, h, c, p)
        return float((dh * h_t).sum() + (dc_next * c_t).sum())

    def numeric(make):  # central differences over the 4 entries
        out = np.zeros(4)
        for j in range(4):
            out[j] = (make(j, 1e-6) - make(j, -1e-6)) / 2e-6
        return out

    def bumped(array, j, eps):
        array = array.copy()
        array[..., j] += eps
        return array

    got = reference_lstm_step_backward(dh, dc_next, x, h_prev, c_prev, params)
    for k, gate in enumerate("figo"):
        want = numeric(lambda j, e: loss(p={**params, f"b_{gate}": bumped(params[f"b_{gate}"], j, e)}))
        np.testing.assert_allclose(got[k][0], want, atol=1e-8, err_msg=gate)
    np.testing.assert_allclose(got[4][0], numeric(lambda j, e: loss(c=bumped(c_prev, j, e))), atol=1e-8)
    np.testing.assert_allclose(got[5][0], numeric(lambda j, e: loss(h=bumped(h_prev, j, e))), atol=1e-8)


# A reader's function, written the way the chapter's exercise asks, with switchable mistakes.
def reader(dh, dc_next, x, h_prev, c_prev, p, *, skip_next=False, skip_f=False, dtanh="tanh_c", skip_o=False,
           skip_sigmoid=False, forget_co=False, forget_cf=False, forget_ci=False, co_to_prev=False):
    peephole = "w_cf" in p

    def pre(name):
        return x @ p[f"W_x{name}"].T + h_prev @ p[f"W_h{name}"].T + p[f"b_{name}"]

    f = sigmoid(pre("f") + (p["w_cf"] * c_prev if peephole else 0))
    i = sigmoid(pre("i") + (p["w_ci"] * c_prev if peephole else 0))
    g = np.tanh(pre("g"))
    c = f * c_prev + i * g
    o = sigmoid(pre("o") + (p["w_co"] * c if peephole else 0))
    squash = {"tanh_c": np.tanh(c), "c": c, "h": o * np.tanh(c)}[dtanh]

    def ds(s):
        return 1.0 if skip_sigmoid else s * (1 - s)

    da_o = dh * np.tanh(c) * ds(o)
    dc = (0 if skip_next else dc_next) + dh * (1 if skip_o else o) * (1 - squash**2)
    if peephole and not forget_co and not co_to_prev:
        dc = dc + da_o * p["w_co"]
    da_f, da_i, da_g = dc * c_prev * ds(f), dc * g * ds(i), dc * i * (1 - g**2)
    dc_prev = dc if skip_f else dc * f
    if peephole:
        dc_prev = dc_prev + (0 if forget_cf else da_f * p["w_cf"]) + (0 if forget_ci else da_i * p["w_ci"])
        if co_to_prev:
            dc_prev = dc_prev + da_o * p["w_co"]
    dh_prev = da_f @ p["W_hf"] + da_i @ p["W_hi"] + da_g @ p["W_hg"] + da_o @ p["W_ho"]
    return da_f, da_i, da_g, da_o, dc_prev, dh_prev


def test_a_correct_answer_passes(capsys):
    check_lstm_step_backward(reader)
    check_lstm_step_backward(reference_lstm_step_backward)
    assert "all 2 cases pass" in capsys.readouterr().out


@pytest.mark.parametrize("mistake, named", [
    (dict(skip_next=True), "missing the path from step t+1"),
    (dict(skip_f=True), "dc_prev is missing the factor f_t"),
    (dict(dtanh="c"), "you used 1 - c_t**2"),
    (dict(dtanh="h"), "you used 1 - h_t**2"),
    (dict(skip_o=True), "missing the factor o_t"),
    (dict(skip_sigmoid=True), "the sigmoid derivative is missing"),
    (dict(forget_co=True, forget_cf=True, forget_ci=True), "every peephole term is missing"),
    (dict(forget_co=True), "output gate's peephole term is missing"),
    (dict(co_to_prev=True), "belongs to dc"),
    (dict(forget_cf=True, forget_ci=True), "missing both peephole terms"),
    (dict(forget_cf=True), "forget gate's peephole term da_f * w_cf"),
    (dict(forget_ci=True), "input gate's peephole term da_i * w_ci"),
])
def test_each_mistake_is_named(mistake, named):
    with pytest.raises(CheckFailed) as err:
        check_lstm_step_backward(lambda *args: reader(*args, **mistake))
    assert named in str(err.value)


def test_the_catalogue_entries_differ_from_the_reference_and_from_each_other():
    """Every known mistake changes some output on the checker's cases (else it could never be named)
    and no two are the same function there (else the second could never be named)."""
    from utils.checkers.core import is_close
    from utils.checkers.rnn_backward import _make_cases

    cases = _make_cases()
    outputs = [[wrong(*args) for _, args, _ in cases] for _, wrong in LSTM_BACKWARD_MISTAKES]
    for (text, _), out in zip(LSTM_BACKWARD_MISTAKES, outputs):
        assert not all(is_close(o, expected) for o, (_, _, expected) in zip(out, cases)), text
    for a in range(len(outputs)):
        for b in range(a):
            same = all(is_close(x, y) for x, y in zip(outputs[a], outputs[b]))
            assert not same, (LSTM_BACKWARD_MISTAKES[a][0], LSTM_BACKWARD_MISTAKES[b][0])


def test_an_unknown_mistake_points_at_the_shared_cell_gradient():
    def wrong_dc(*args):  # every cell-gradient output scaled: no catalogue entry
        da_f, da_i, da_g, da_o, dc_prev, dh_prev = reader(*args)
        return 1.5 * da_f, 1.5 * da_i, 1.5 * da_g, da_o, dc_prev, dh_prev

    with pytest.raises(CheckFailed) as err:
        check_lstm_step_backward(wrong_dc)
    message = str(err.value)
    assert "da_o is right" in message and "da_f (first output) is wrong" in message


def test_wrong_shape_and_none_are_reported():
    with pytest.raises(CheckFailed, match="returned None"):
        check_lstm_step_backward(lambda *args: None)
    with pytest.raises(CheckFailed, match=r"dc_prev \(fifth output\) has shape"):
        check_lstm_step_backward(lambda *args: reader(*args)[:4] + (reader(*args)[4].sum(0), reader(*args)[5]))

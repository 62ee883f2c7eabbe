"""utils.scratch.rnn: forward shapes and modes, BPTT checked numerically, clear input errors."""
import math

import numpy as np
import pytest

from utils.scratch.gradcheck import check_layer, numerical_gradient, relative_error
from utils.scratch.rnn import GRU, LSTM, RNN, PeepholeLSTM, gru_step, lstm_step, rnn_step, sigmoid

LAYERS = [RNN, LSTM, PeepholeLSTM, GRU]


from peephole_by_hand import C_PREV, O_READING_OLD_CELL_H, PEEP, PEEPHOLE_BY_HAND, G  # noqa: E402  (tests/ is on sys.path)


def _scaled(layer, scale=2.0):
    """Larger weights than the default init, so gates leave their linear range."""
    for p in layer.params.values():
        p *= scale
    return layer


@pytest.mark.parametrize("cls", LAYERS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("return_sequences", [True, False])
def test_backward_matches_numerical_gradient(cls, return_sequences):
    rng = np.random.default_rng(0)
    layer = _scaled(cls(3, 4, rng=1))
    x = rng.standard_normal((2, 5, 3))
    errors = check_layer(layer, x, return_sequences=return_sequences)
    assert set(errors) == set(layer.params) | {"input"}
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("cls", LAYERS, ids=lambda c: c.__name__)
def test_gradients_of_initial_states(cls):
    rng = np.random.default_rng(1)
    layer = cls(3, 4, rng=2)
    x = rng.standard_normal((2, 4, 3))
    h0 = rng.standard_normal((2, 4))
    c0 = rng.standard_normal((2, 4))
    kwargs = {"c0": c0} if layer.has_cell else {}
    hs = layer.forward(x, h0=h0, **kwargs)
    dh = rng.standard_normal(hs.shape)
    layer.backward(dh)

    def loss():
        return np.sum(layer.forward(x, h0=h0, **kwargs) * dh)

    assert relative_error(layer.dh0, numerical_gradient(loss, h0)) < 1e-6
    if layer.has_cell:
        assert relative_error(layer.dc0, numerical_gradient(loss, c0)) < 1e-6


@pytest.mark.parametrize("cls", LAYERS, ids=lambda c: c.__name__)
def test_modes_and_last_state_gradient(cls):
    rng = np.random.default_rng(2)
    layer = cls(3, 5, rng=0)
    x = rng.standard_normal((4, 6, 3))
    hs = layer.forward(x)
    assert hs.shape == (4, 6, 5)
    last = layer.forward(x, return_sequences=False)
    assert last.shape == (4, 5)
    np.testing.assert_array_equal(last, hs[:, -1])
    # dh for the last state only == dh for all states with zeros everywhere else
    dh_last = rng.standard_normal((4, 5))
    dx_last = layer.backward(dh_last)
    grads_last = {k: v.copy() for k, v in layer.grads.items()}
    dh_all = np.zeros((4, 6, 5))
    dh_all[:, -1] = dh_last
    dx_all = layer.backward(dh_all)
    np.testing.assert_allclose(dx_last, dx_all)
    for k in grads_last:
        np.testing.assert_allclose(grads_last[k], layer.grads[k])
    # backward is not cumulative: calling it twice gives the same grads
    layer.backward(dh_all)
    for k in grads_last:
        np.testing.assert_allclose(grads_last[k], layer.grads[k])


def test_step_functions_match_first_step_of_layers():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 1, 3))
    h0 = rng.standard_normal((2, 4))
    c0 = rng.standard_normal((2, 4))
    rnn, lstm, peep, gru = (cls(3, 4, rng=5) for cls in LAYERS)
    np.testing.assert_allclose(rnn.forward(x, h0)[:, 0], rnn_step(x[:, 0], h0, rnn.params))
    np.testing.assert_allclose(lstm.forward(x, h0, c0)[:, 0], lstm_step(x[:, 0], h0, c0, lstm.params)[0])
    np.testing.assert_allclose(lstm.cs[:, 0], lstm_step(x[:, 0], h0, c0, lstm.params)[1])
    np.testing.assert_allclose(peep.forward(x, h0, c0)[:, 0], lstm_step(x[:, 0], h0, c0, peep.params)[0])
    np.testing.assert_allclose(gru.forward(x, h0)[:, 0], gru_step(x[:, 0], h0, gru.params))


def test_peephole_with_zero_peepholes_is_an_lstm():
    rng = np.random.default_rng(4)
    peep, lstm = PeepholeLSTM(3, 4, rng=7), LSTM(3, 4, rng=8)
    for name in lstm.params:
        lstm.params[name][...] = peep.params[name]
    for name in ("w_cf", "w_ci", "w_co"):
        peep.params[name][...] = 0.0
    x = rng.standard_normal((2, 5, 3))
    np.testing.assert_allclose(peep.forward(x), lstm.forward(x))


@pytest.mark.parametrize("peephole", sorted(PEEPHOLE_BY_HAND))
def test_peephole_one_step_by_hand(peephole):
    """o reads c_t, f and i read c_{t-1}: one step against numbers worked out by hand."""
    layer = PeepholeLSTM(1, 2, rng=0)
    for p in layer.params.values():
        p[...] = 0.0
    layer.params["b_g"][...] = math.atanh(G)
    layer.params[peephole][...] = PEEP
    h = layer.forward(np.zeros((1, 1, 1)), h0=np.zeros((1, 2)), c0=np.array([C_PREV]))
    h_expected, c_expected = PEEPHOLE_BY_HAND[peephole]
    np.testing.assert_allclose(layer.cs[0, 0], c_expected, rtol=0, atol=1e-14)
    np.testing.assert_allclose(h[0, 0], h_expected, rtol=0, atol=1e-14)
    if peephole == "w_co":
        assert np.abs(h[0, 0] - O_READING_OLD_CELL_H).min() > 0.01  # the test tells c_t from c_{t-1}


def test_any_hidden_size_works():
    x = np.random.default_rng(5).standard_normal((2, 3, 7))
    for cls in LAYERS:
        assert cls(7, 37, rng=0).forward(x).shape == (2, 3, 37)


def test_sigmoid_is_stable_for_large_inputs():
    with np.errstate(over="raise", invalid="raise"):
        s = sigmoid(np.array([-1000.0, -30.0, 0.0, 30.0, 1000.0]))
    np.testing.assert_allclose(s, [0.0, 9.357623e-14, 0.5, 1.0, 1.0], atol=1e-15, rtol=1e-6)


@pytest.mark.parametrize("cls", LAYERS, ids=lambda c: c.__name__)
def test_clear_errors(cls):
    layer = cls(3, 4, rng=0)
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="input_size is 3"):
        layer.forward(np.zeros((2, 5, 4)))
    with pytest.raises(ValueError, match="empty sequence"):
        layer.forward(np.zeros((2, 0, 3)))
    with pytest.raises(ValueError, match=r"\(batch, T, input_size\)"):
        layer.forward(np.zeros((5, 3)))
    with pytest.raises(ValueError, match="NaN"):
        layer.forward(np.full((1, 2, 3), np.nan))
    with pytest.raises(TypeError, match="real numbers"):
        layer.forward(np.array([[["a", "b", "c"]]]))
    with pytest.raises(ValueError, match="h0 must have shape"):
        layer.forward(np.zeros((2, 5, 3)), h0=np.zeros((3, 4)))
    layer.forward(np.zeros((2, 5, 3)))
    with pytest.raises(ValueError, match="dh must have shape"):
        layer.backward(np.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match="hidden_size must be a positive int, got 0"):
        cls(3, 0)
    with pytest.raises(TypeError, match="input_size must be an int, got float"):
        cls(3.0, 4)
    with pytest.raises(TypeError, match="return_sequences must be True or False, got str: 'no'"):
        layer.forward(np.zeros((2, 5, 3)), return_sequences="no")  # "no" is truthy: it read as True
    with pytest.raises(TypeError, match="rng"):
        cls(3, 4, rng="seed")


@pytest.mark.parametrize("cls", LAYERS, ids=lambda c: c.__name__)
def test_parameters_of_the_wrong_shape_are_rejected(cls):
    """A bias of shape (3, 4) would broadcast (batch 3) into a silently wrong answer."""
    layer = cls(3, 4, rng=0)
    x = np.zeros((3, 5, 3))
    bias = next(name for name, kind in cls.param_layout if kind == "b")
    layer.params[bias] = np.zeros((3, 4))
    with pytest.raises(ValueError, match=rf"params\['{bias}'\] has shape \(3, 4\), expected \(hidden_size,\) = \(4,\)"):
        layer.forward(x)
    layer = cls(3, 4, rng=0)
    recurrent = next(name for name, kind in cls.param_layout if kind == "h")
    layer.params[recurrent] = np.zeros((4, 3))
    with pytest.raises(ValueError, match=r"\(hidden_size, hidden_size\) = \(4, 4\)"):
        layer.forward(x)
    layer = cls(3, 4, rng=0)
    del layer.params[recurrent]
    with pytest.raises(KeyError, match="missing"):
        layer.forward(x)
    layer = cls(3, 4, rng=0)
    layer.params[bias] = [0.0] * 4
    with pytest.raises(TypeError, match="float NumPy array"):
        layer.forward(x)
    layer = cls(3, 4, rng=0)
    layer.params[bias][0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        layer.forward(x)


def test_torch_tensor_input_is_rejected_clearly():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="torch tensor"):
        RNN(3, 4).forward(torch.zeros(2, 5, 3))


@pytest.mark.parametrize("cls", [LSTM, PeepholeLSTM])
def test_lstm_backward_takes_a_gradient_for_the_cell_states(cls):
    """backward(dh, dc): loss = sum(A * hs) + sum(B * cs), checked against central differences."""
    rng = np.random.default_rng(0)
    layer = cls(3, 4, rng=1)
    x = rng.standard_normal((2, 5, 3))
    A, B = rng.standard_normal((2, 5, 4)), rng.standard_normal((2, 5, 4))

    def loss():
        hs = layer.forward(x)
        return float((A * hs).sum() + (B * layer.cs).sum())

    loss()
    dx = layer.backward(A, dc=B)
    assert relative_error(dx, numerical_gradient(loss, x)) < 1e-7
    for name, value in layer.params.items():
        loss()
        layer.backward(A, dc=B)
        analytic = layer.grads[name].copy()
        assert relative_error(analytic, numerical_gradient(loss, value)) < 1e-6, name
    with pytest.raises(ValueError, match="dc must have the shape"):
        layer.backward(A, dc=B[:, -1])

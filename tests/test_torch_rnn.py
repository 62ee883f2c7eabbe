"""utils.nn.rnn: NumPy layers equal torch.nn's (outputs and gradients, float64), and the
course's torch peephole LSTM equals the NumPy one."""
import math

import numpy as np
import pytest
import torch
from torch import nn

from utils.nn.rnn import PeepholeLSTM as TorchPeepholeLSTM
from utils.nn.rnn import PeepholeLSTMCell, from_torch, to_torch, torch_grads
from utils.scratch.rnn import GRU, LSTM, RNN, PeepholeLSTM

torch.set_num_threads(1)
PAIRS = [(RNN, nn.RNN), (LSTM, nn.LSTM), (PeepholeLSTM, TorchPeepholeLSTM), (GRU, nn.GRU)]


from peephole_by_hand import C_PREV, O_READING_OLD_CELL_H, PEEP, PEEPHOLE_BY_HAND, G  # noqa: E402  (tests/ is on sys.path)


def _run_both(layer, module, x, h0, c0, rng):
    """Forward + backward (loss = sum(hs * dh)) in NumPy and torch; returns both results."""
    hs = layer.forward(x, h0, c0) if layer.has_cell else layer.forward(x, h0)
    dh = rng.standard_normal(hs.shape)
    dx = layer.backward(dh)
    xt = torch.tensor(x, requires_grad=True)
    h0t = torch.tensor(h0[None], requires_grad=True)  # torch wants (num_layers, batch, hidden)
    c0t = torch.tensor(c0[None], requires_grad=True)
    out, _ = module(xt, (h0t, c0t) if layer.has_cell else h0t)
    (out * torch.tensor(dh)).sum().backward()
    return hs, dx, out, xt, h0t, c0t


@pytest.mark.parametrize("np_cls,torch_cls", PAIRS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("direction", ["numpy_to_torch", "torch_to_numpy"])
def test_outputs_and_gradients_match(np_cls, torch_cls, direction):
    rng = np.random.default_rng(0)
    if direction == "numpy_to_torch":
        layer = np_cls(3, 5, rng=1)
        for p in layer.params.values():
            p *= 2.0  # leave the gates' linear range
        module = to_torch(layer)
    else:
        torch.manual_seed(1)
        module = torch_cls(3, 5, batch_first=True, dtype=torch.float64)
        layer = from_torch(module)
    assert type(module) is torch_cls
    x = rng.standard_normal((2, 6, 3))
    h0, c0 = rng.standard_normal((2, 5)), rng.standard_normal((2, 5))
    hs, dx, out, xt, h0t, c0t = _run_both(layer, module, x, h0, c0, rng)
    np.testing.assert_allclose(out.detach().numpy(), hs, atol=1e-10, rtol=0)
    np.testing.assert_allclose(xt.grad.numpy(), dx, atol=1e-10, rtol=0)
    np.testing.assert_allclose(h0t.grad.numpy()[0], layer.dh0, atol=1e-10, rtol=0)
    if layer.has_cell:
        np.testing.assert_allclose(c0t.grad.numpy()[0], layer.dc0, atol=1e-10, rtol=0)
    grads = torch_grads(module)
    assert set(grads) == set(layer.grads)
    for name, g in grads.items():
        np.testing.assert_allclose(g, layer.grads[name], atol=1e-10, rtol=0, err_msg=name)


def test_round_trip_keeps_every_weight():
    for np_cls, _ in PAIRS:
        layer = np_cls(4, 6, rng=3)
        back = from_torch(to_torch(layer))
        assert type(back) is np_cls
        for name, p in layer.params.items():
            np.testing.assert_array_equal(back.params[name], p)


def test_gru_keeps_b_hn_apart():
    """The reset gate multiplies W_hn h + b_hn but not b_in: merging them would change outputs."""
    torch.manual_seed(0)
    module = nn.GRU(2, 3, batch_first=True, dtype=torch.float64)
    layer = from_torch(module)
    np.testing.assert_array_equal(layer.params["b_hn"], module.bias_hh_l0.detach().numpy()[6:])
    np.testing.assert_array_equal(layer.params["b_xn"], module.bias_ih_l0.detach().numpy()[6:])


def test_peephole_cell_without_peepholes_equals_lstm_cell():
    torch.manual_seed(0)
    cell = PeepholeLSTMCell(3, 4, dtype=torch.float64)
    ref = nn.LSTMCell(3, 4, dtype=torch.float64)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(getattr(ref, name))
        for name in ("w_ci", "w_cf", "w_co"):
            getattr(cell, name).zero_()
    x, h, c = (torch.randn(2, n, dtype=torch.float64) for n in (3, 4, 4))
    for got, want in zip(cell(x, (h, c)), ref(x, (h, c))):
        torch.testing.assert_close(got, want)


@pytest.mark.parametrize("peephole", sorted(PEEPHOLE_BY_HAND))
def test_torch_peephole_one_step_by_hand(peephole):
    """The torch cell on its own (not via the NumPy layer): o reads c_t, f and i read c_{t-1}."""
    module = TorchPeepholeLSTM(1, 2, dtype=torch.float64)
    cell = module.cell
    with torch.no_grad():
        for p in cell.parameters():
            p.zero_()
        cell.bias_ih[4:6] = math.atanh(G)  # rows 2H..3H are g in torch's order i, f, g, o
        getattr(cell, peephole)[:] = torch.tensor(PEEP)
    c_prev = torch.tensor([C_PREV], dtype=torch.float64)  # (batch 1, hidden 2)
    h_expected, c_expected = (torch.tensor([v], dtype=torch.float64) for v in PEEPHOLE_BY_HAND[peephole])
    h, c = cell(torch.zeros(1, 1, dtype=torch.float64), (torch.zeros(1, 2, dtype=torch.float64), c_prev))
    torch.testing.assert_close(c, c_expected, rtol=0, atol=1e-14)
    torch.testing.assert_close(h, h_expected, rtol=0, atol=1e-14)
    out, (h_n, c_n) = module(torch.zeros(1, 1, 1, dtype=torch.float64),
                             (torch.zeros(1, 1, 2, dtype=torch.float64), c_prev[None]))
    torch.testing.assert_close(h_n[0], h_expected, rtol=0, atol=1e-14)
    torch.testing.assert_close(c_n[0], c_expected, rtol=0, atol=1e-14)
    if peephole == "w_co":
        assert (h[0] - torch.tensor(O_READING_OLD_CELL_H, dtype=torch.float64)).abs().min() > 0.01


def test_peephole_lstm_time_first_and_state_shapes():
    torch.manual_seed(0)
    module = TorchPeepholeLSTM(3, 4, batch_first=True, dtype=torch.float64)
    time_first = TorchPeepholeLSTM(3, 4, batch_first=False, dtype=torch.float64)
    time_first.load_state_dict(module.state_dict())
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    out, (h_n, c_n) = module(x)
    out_tf, (h_tf, c_tf) = time_first(x.transpose(0, 1))
    assert out.shape == (2, 5, 4) and h_n.shape == (1, 2, 4) and c_n.shape == (1, 2, 4)
    torch.testing.assert_close(out_tf.transpose(0, 1), out)
    torch.testing.assert_close(h_n[0], out[:, -1])
    torch.testing.assert_close(h_tf, h_n)


def test_clear_errors():
    with pytest.raises(TypeError, match="expects nn.RNN"):
        from_torch(nn.Linear(2, 3))
    with pytest.raises(ValueError, match="num_layers=2"):
        from_torch(nn.LSTM(2, 3, num_layers=2))
    with pytest.raises(ValueError, match="bidirectional=True"):
        from_torch(nn.GRU(2, 3, bidirectional=True))
    with pytest.raises(ValueError, match="relu"):
        from_torch(nn.RNN(2, 3, nonlinearity="relu"))
    with pytest.raises(ValueError, match="bias=True"):
        from_torch(nn.RNN(2, 3, bias=False))
    with pytest.raises(TypeError, match="to_torch expects"):
        to_torch(nn.RNN(2, 3))
    with pytest.raises(ValueError, match="backward"):
        torch_grads(nn.GRU(2, 3))
    module = TorchPeepholeLSTM(3, 4)
    with pytest.raises(ValueError, match="3 axes"):
        module(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="empty sequence"):
        module(torch.zeros(2, 0, 3))
    with pytest.raises(ValueError, match="input_size=3"):
        module.cell(torch.zeros(2, 5))


def test_peephole_state_shapes_are_checked_like_nn_lstm():
    """A (batch, H) state used to be read as row 0, and (1, 1, H) broadcast over the batch."""
    module = TorchPeepholeLSTM(3, 4)
    x = torch.zeros(2, 5, 3)
    ok = torch.zeros(1, 2, 4)
    module(x, (ok, ok))  # nn.LSTM's layout is accepted
    for bad in (torch.zeros(2, 4), torch.zeros(1, 1, 4), torch.zeros(2, 2, 4)):
        expected = r"state h must have shape \(num_layers=1, batch, hidden_size\) = \(1, 2, 4\)"
        with pytest.raises(ValueError, match=expected):
            module(x, (bad, ok))
        with pytest.raises(ValueError, match="state c must have shape"):
            module(x, (ok, bad))
    with pytest.raises(TypeError, match=r"pair \(h, c\)"):
        module(x, ok)
    cell = module.cell
    x_step, h, c = torch.zeros(2, 3), torch.zeros(2, 4), torch.zeros(2, 4)
    cell(x_step, (h, c))
    for bad in (torch.zeros(4), torch.zeros(1, 4), torch.zeros(2, 5)):
        with pytest.raises(ValueError, match=r"state h must have shape \(batch, hidden_size\) = \(2, 4\)"):
            cell(x_step, (bad, c))
        with pytest.raises(ValueError, match="state c must have shape"):
            cell(x_step, (h, bad))

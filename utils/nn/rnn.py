"""Recurrent layers in torch that ``torch.nn`` lacks, and conversion to/from ``utils.scratch.rnn``.

* :class:`PeepholeLSTMCell` / :class:`PeepholeLSTM`: an LSTM whose gates also read the cell
  state (f and i read c_{t-1}, o reads c_t), laid out like ``torch.nn.LSTMCell`` /
  ``torch.nn.LSTM`` (stacked weights in torch's gate order i, f, g, o) plus three peephole
  vectors ``w_ci``, ``w_cf``, ``w_co``.
* :func:`to_torch` and :func:`from_torch`: copy the weights of a NumPy layer into the matching
  torch module (``nn.RNN``, ``nn.LSTM``, ``nn.GRU``, :class:`PeepholeLSTM`, all batch first)
  and back, so the two can be compared on the same weights.

torch's layouts, which the conversion has to respect:

* ``weight_ih_l0`` stacks the input weights of all gates: LSTM in the order **i, f, g, o**,
  GRU in the order **r, z, n**; ``weight_hh_l0`` the same for the recurrent weights.
* torch has two biases, ``bias_ih_l0`` and ``bias_hh_l0``. Where they are simply added (RNN,
  LSTM, the r and z gates of the GRU) the NumPy layer keeps their sum; the GRU's candidate
  needs them apart, because the reset gate multiplies ``W_hn h + b_hn`` but not ``b_in``.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ..scratch.rnn import GRU, LSTM, RNN
from ..scratch.rnn import PeepholeLSTM as ScratchPeepholeLSTM

# Named as in utils.scratch.rnn: utils.nn.PeepholeLSTM is the torch twin of utils.scratch.PeepholeLSTM.
__all__ = ["PeepholeLSTMCell", "PeepholeLSTM", "to_torch", "from_torch", "torch_grads"]

LSTM_GATES = ("i", "f", "g", "o")  # torch's order in the stacked LSTM weights
GRU_GATES = ("r", "z", "n")  # torch's order in the stacked GRU weights


def _check_state(state, shape: tuple, shape_doc: str, name: str):
    """``state`` as a pair (h, c) of tensors of exactly ``shape`` (no broadcasting, no row picking)."""
    if not isinstance(state, (tuple, list)) or len(state) != 2:
        raise TypeError(f"{name}: state must be a pair (h, c), got {type(state).__name__}")
    for tensor, part in zip(state, ("h", "c")):
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f"{name}: state {part} must be a tensor, got {type(tensor).__name__}")
        if tuple(tensor.shape) != shape:
            raise ValueError(f"{name}: state {part} must have shape {shape_doc} = {shape}, "
                             f"got {tuple(tensor.shape)}")
    return state


class PeepholeLSTMCell(nn.Module):
    """One peephole-LSTM step; the same weights and layout as ``nn.LSTMCell`` plus peepholes.

    forward(x (batch, input), state=(h, c) each (batch, hidden) or None) -> (h, c).
    Parameters: ``weight_ih`` (4*hidden, input), ``weight_hh`` (4*hidden, hidden), ``bias_ih``
    and ``bias_hh`` (4*hidden,) in torch's gate order i, f, g, o; peephole vectors ``w_ci``,
    ``w_cf``, ``w_co`` (hidden,).
    """

    def __init__(self, input_size: int, hidden_size: int, dtype=None):
        super().__init__()
        if input_size < 1 or hidden_size < 1:
            raise ValueError(f"input_size and hidden_size must be positive, got {input_size}, {hidden_size}")
        self.input_size, self.hidden_size = input_size, hidden_size
        H = hidden_size
        self.weight_ih = nn.Parameter(torch.empty(4 * H, input_size, dtype=dtype))
        self.weight_hh = nn.Parameter(torch.empty(4 * H, H, dtype=dtype))
        self.bias_ih = nn.Parameter(torch.empty(4 * H, dtype=dtype))
        self.bias_hh = nn.Parameter(torch.empty(4 * H, dtype=dtype))
        self.w_ci = nn.Parameter(torch.empty(H, dtype=dtype))
        self.w_cf = nn.Parameter(torch.empty(H, dtype=dtype))
        self.w_co = nn.Parameter(torch.empty(H, dtype=dtype))
        bound = 1.0 / math.sqrt(H)  # torch's LSTM initialisation
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def forward(self, x: torch.Tensor, state=None):
        if x.dim() != 2 or x.shape[1] != self.input_size:
            raise ValueError(f"x must be (batch, input_size={self.input_size}), got {tuple(x.shape)}")
        if state is None:
            zeros = x.new_zeros(x.shape[0], self.hidden_size)
            state = (zeros, zeros)
        h_prev, c_prev = _check_state(state, (x.shape[0], self.hidden_size), "(batch, hidden_size)",
                                      "PeepholeLSTMCell")  # (batch, hidden) each
        a = x @ self.weight_ih.T + self.bias_ih + h_prev @ self.weight_hh.T + self.bias_hh  # (batch, 4H)
        a_i, a_f, a_g, a_o = a.chunk(4, dim=1)  # torch's gate order
        i = torch.sigmoid(a_i + self.w_ci * c_prev)  # peeks at c_{t-1}
        f = torch.sigmoid(a_f + self.w_cf * c_prev)  # peeks at c_{t-1}
        g = torch.tanh(a_g)
        c = f * c_prev + i * g
        o = torch.sigmoid(a_o + self.w_co * c)  # peeks at the new c_t
        h = o * torch.tanh(c)
        return h, c


class PeepholeLSTM(nn.Module):
    """A peephole LSTM over a whole sequence, with ``nn.LSTM``'s interface (one layer).

    forward(x (batch, T, input) if batch_first else (T, batch, input), state=None)
        -> (output, (h_n, c_n)): output holds every h_t, h_n and c_n are (1, batch, hidden),
        exactly like ``nn.LSTM``.
    """

    def __init__(self, input_size: int, hidden_size: int, batch_first: bool = True, dtype=None):
        super().__init__()
        self.cell = PeepholeLSTMCell(input_size, hidden_size, dtype=dtype)
        self.input_size, self.hidden_size, self.batch_first = input_size, hidden_size, batch_first

    def forward(self, x: torch.Tensor, state=None):
        if x.dim() != 3:
            raise ValueError(f"x must have 3 axes (batch, T, input) or (T, batch, input), got {tuple(x.shape)}")
        if not self.batch_first:
            x = x.transpose(0, 1)  # (batch, T, input)
        if x.shape[1] == 0:
            raise ValueError("x is an empty sequence (T = 0)")
        if state is not None:  # (h_0, c_0), each (1, batch, hidden) like nn.LSTM's
            h_0, c_0 = _check_state(state, (1, x.shape[0], self.hidden_size),
                                    "(num_layers=1, batch, hidden_size)", "PeepholeLSTM")
            state = (h_0[0], c_0[0])  # (batch, hidden) each
        outputs = []
        for t in range(x.shape[1]):
            state = self.cell(x[:, t], state)
            outputs.append(state[0])
        output = torch.stack(outputs, dim=1)  # (batch, T, hidden)
        if not self.batch_first:
            output = output.transpose(0, 1)
        h_n, c_n = state
        return output, (h_n.unsqueeze(0), c_n.unsqueeze(0))



def _t(array: np.ndarray) -> torch.Tensor:
    return torch.tensor(np.asarray(array), dtype=torch.float64)


def _n(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().cpu().to(torch.float64).numpy().copy()


def to_torch(layer):
    """A float64, batch-first torch module with the weights of NumPy ``layer``.

    ``utils.scratch.rnn`` RNN -> ``nn.RNN``, LSTM -> ``nn.LSTM``, GRU -> ``nn.GRU``,
    PeepholeLSTM -> :class:`PeepholeLSTM`. Biases go to ``bias_ih``; ``bias_hh``
    is zero except the GRU's ``b_hn``.
    """
    if not isinstance(layer, (RNN, LSTM, GRU)):
        raise TypeError("to_torch expects a utils.scratch.rnn RNN, LSTM, PeepholeLSTM or GRU, got "
                        f"{type(layer).__name__}")
    D, H, p = layer.input_size, layer.hidden_size, layer.params
    if isinstance(layer, RNN):
        module = nn.RNN(D, H, batch_first=True, dtype=torch.float64)
        weights = {"weight_ih_l0": p["W_x"], "weight_hh_l0": p["W_h"], "bias_ih_l0": p["b"],
                   "bias_hh_l0": np.zeros(H)}
    elif isinstance(layer, LSTM):
        stacked = {
            "ih": np.concatenate([p[f"W_x{g}"] for g in LSTM_GATES]),
            "hh": np.concatenate([p[f"W_h{g}"] for g in LSTM_GATES]),
            "b": np.concatenate([p[f"b_{g}"] for g in LSTM_GATES]),
        }
        if isinstance(layer, ScratchPeepholeLSTM):
            module = PeepholeLSTM(D, H, batch_first=True, dtype=torch.float64)
            weights = {"cell.weight_ih": stacked["ih"], "cell.weight_hh": stacked["hh"],
                       "cell.bias_ih": stacked["b"], "cell.bias_hh": np.zeros(4 * H),
                       "cell.w_ci": p["w_ci"], "cell.w_cf": p["w_cf"], "cell.w_co": p["w_co"]}
        else:
            module = nn.LSTM(D, H, batch_first=True, dtype=torch.float64)
            weights = {"weight_ih_l0": stacked["ih"], "weight_hh_l0": stacked["hh"],
                       "bias_ih_l0": stacked["b"], "bias_hh_l0": np.zeros(4 * H)}
    else:  # GRU
        module = nn.GRU(D, H, batch_first=True, dtype=torch.float64)
        weights = {
            "weight_ih_l0": np.concatenate([p[f"W_x{g}"] for g in GRU_GATES]),
            "weight_hh_l0": np.concatenate([p[f"W_h{g}"] for g in GRU_GATES]),
            "bias_ih_l0": np.concatenate([p["b_r"], p["b_z"], p["b_xn"]]),
            "bias_hh_l0": np.concatenate([np.zeros(H), np.zeros(H), p["b_hn"]]),
        }
    state = module.state_dict()
    with torch.no_grad():
        for name, value in weights.items():
            state[name].copy_(_t(value))
    return module


def _single_layer(module: nn.Module, kind: str) -> None:
    if module.num_layers != 1 or module.bidirectional:
        raise ValueError(f"from_torch handles one unidirectional layer; got num_layers={module.num_layers}, "
                         f"bidirectional={module.bidirectional}")
    if not module.bias:
        raise ValueError(f"from_torch needs a {kind} with bias=True")
    if getattr(module, "proj_size", 0):
        raise ValueError("from_torch does not handle LSTM projections (proj_size > 0)")


def _named_arrays(module: nn.Module, grads: bool) -> tuple[type, dict[str, np.ndarray]]:
    """The NumPy layer class for ``module`` and its parameters (or their gradients), NumPy names.

    With ``grads=False`` two added biases b_ih + b_hh become one NumPy bias (their sum); with
    ``grads=True`` the gradient of that sum is the gradient of either of them (we take b_ih's).
    """
    def get(param: torch.Tensor) -> np.ndarray:
        if not grads:
            return _n(param)
        if param.grad is None:
            raise ValueError("the torch module has no gradients yet: call loss.backward() first")
        return _n(param.grad)

    def split(param: torch.Tensor, names) -> dict[str, np.ndarray]:
        return dict(zip(names, np.split(get(param), len(names))))

    def bias_sum(b_ih: torch.Tensor, b_hh: torch.Tensor) -> np.ndarray:
        return get(b_ih) if grads else get(b_ih) + get(b_hh)

    if isinstance(module, PeepholeLSTM):
        cell = module.cell
        ih, hh, bias = cell.weight_ih, cell.weight_hh, (cell.bias_ih, cell.bias_hh)
        cls = ScratchPeepholeLSTM
    elif isinstance(module, (nn.LSTM, nn.GRU, nn.RNN)):
        kind = type(module).__name__
        _single_layer(module, kind)
        if isinstance(module, nn.RNN) and module.nonlinearity != "tanh":
            raise ValueError(f"from_torch handles tanh RNNs, got nonlinearity={module.nonlinearity!r}")
        ih, hh, bias = module.weight_ih_l0, module.weight_hh_l0, (module.bias_ih_l0, module.bias_hh_l0)
        cls = {"LSTM": LSTM, "GRU": GRU, "RNN": RNN}[kind]
    else:
        raise TypeError(f"from_torch expects nn.RNN, nn.LSTM, nn.GRU or utils.PeepholeLSTM, "
                        f"got {type(module).__name__}")

    out: dict[str, np.ndarray] = {}
    if cls is RNN:
        out = {"W_x": get(ih), "W_h": get(hh), "b": bias_sum(*bias)}
    elif cls is GRU:
        W_x, W_h = split(ih, GRU_GATES), split(hh, GRU_GATES)
        b_x, b_h = split(bias[0], GRU_GATES), split(bias[1], GRU_GATES)
        for g in GRU_GATES:
            out[f"W_x{g}"], out[f"W_h{g}"] = W_x[g], W_h[g]
        for g in ("r", "z"):
            out[f"b_{g}"] = b_x[g] if grads else b_x[g] + b_h[g]
        out["b_xn"] = b_x["n"]
        out["b_hn"] = b_h["n"]  # kept apart: the reset gate multiplies it
    else:  # LSTM or peephole LSTM
        W_x, W_h = split(ih, LSTM_GATES), split(hh, LSTM_GATES)
        b = dict(zip(LSTM_GATES, np.split(bias_sum(*bias), 4)))
        for g in LSTM_GATES:
            out[f"W_x{g}"], out[f"W_h{g}"], out[f"b_{g}"] = W_x[g], W_h[g], b[g]
        if cls is ScratchPeepholeLSTM:
            for name in ("w_ci", "w_cf", "w_co"):
                out[name] = get(getattr(module.cell, name))
    return cls, out


def from_torch(module: nn.Module):
    """A ``utils.scratch.rnn`` layer (float64) with the weights of a torch module.

    Accepts a one-layer, unidirectional ``nn.RNN`` (tanh), ``nn.LSTM``, ``nn.GRU`` (all with
    bias) or :class:`PeepholeLSTM`; raises TypeError/ValueError for anything else.
    """
    cls, arrays = _named_arrays(module, grads=False)
    first = next(iter(arrays.values()))  # (hidden, input) input weights of the first gate
    layer = cls(first.shape[1], first.shape[0])
    for name, value in arrays.items():
        layer.params[name][...] = value
    return layer


def torch_grads(module: nn.Module) -> dict[str, np.ndarray]:
    """The gradients of a torch module after ``backward()``, under the NumPy layer's names.

    The keys and shapes are those of ``from_torch(module).grads``, so the two can be compared
    entry by entry.
    """
    return _named_arrays(module, grads=True)[1]

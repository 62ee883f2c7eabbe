"""Recurrent layers from scratch in NumPy: RNN, LSTM, peephole LSTM and GRU, with BPTT.

Every layer is a small class with ``params`` and ``grads`` (dicts of float64 arrays with the
same keys), ``forward`` and ``backward``, so ``utils.scratch.check_layer`` can verify it.
No torch here: ``utils.nn.rnn`` converts these layers to and from ``torch.nn``.

Conventions (the same in the chapter's math and in this code):

* Inputs are **batch first**: ``x`` has shape ``(batch, T, input_size)``; ``x[:, t]`` is
  :math:`x_t`. (``torch.nn.RNN(..., batch_first=True)`` uses the same layout.)
* Weight matrices are stored the way the math writes them, :math:`W_x x_t` with column
  vectors, i.e. ``W_x`` has shape ``(hidden_size, input_size)`` and the code computes
  ``x_t @ W_x.T`` for a batch of row vectors. This is also torch's layout (``weight_ih_l0``).
* ``forward(x, h0=None, return_sequences=True)`` returns all hidden states
  ``(batch, T, hidden)`` or, with ``return_sequences=False``, only the last ``(batch, hidden)``.
* ``backward(dh)`` takes the gradient of the loss w.r.t. what ``forward`` returned (or, in
  either mode, w.r.t. all states ``(batch, T, hidden)`` or only the last ``(batch, hidden)``),
  runs back-propagation through time, fills ``grads`` and returns ``dx`` ``(batch, T, input)``.
  The gradients w.r.t. the initial states are kept in ``dh0`` (and ``dc0`` for LSTMs).

The equations (:math:`\\sigma` is the logistic sigmoid, :math:`\\odot` element-wise product):

RNN:    h_t = tanh(W_x x_t + W_h h_{t-1} + b)

LSTM:   f_t = σ(W_xf x_t + W_hf h_{t-1} + b_f)            forget gate
        i_t = σ(W_xi x_t + W_hi h_{t-1} + b_i)            input gate
        g_t = tanh(W_xg x_t + W_hg h_{t-1} + b_g)         candidate (often written c~_t)
        o_t = σ(W_xo x_t + W_ho h_{t-1} + b_o)            output gate
        c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t                   cell state
        h_t = o_t ⊙ tanh(c_t)

Peephole LSTM: as the LSTM, but f_t and i_t also read c_{t-1} and o_t reads c_t, through
        diagonal peephole weights stored as vectors: + w_cf ⊙ c_{t-1}, + w_ci ⊙ c_{t-1},
        + w_co ⊙ c_t.

GRU (torch's variant, the reset gate applied to W_hn h_{t-1} + b_hn):
        r_t = σ(W_xr x_t + W_hr h_{t-1} + b_r)            reset gate
        z_t = σ(W_xz x_t + W_hz h_{t-1} + b_z)            update gate
        n_t = tanh(W_xn x_t + b_xn + r_t ⊙ (W_hn h_{t-1} + b_hn))   candidate
        h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}
"""
from __future__ import annotations

import numpy as np

from ..validate import boolean, positive_int

__all__ = [
    "sigmoid",
    "RNN",
    "LSTM",
    "PeepholeLSTM",
    "GRU",
    "rnn_step",
    "lstm_step",
    "gru_step",
]


def sigmoid(a: np.ndarray) -> np.ndarray:
    """Logistic sigmoid 1 / (1 + exp(-a)), written as (1 + tanh(a/2)) / 2: no overflow for any a."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(a, dtype=np.float64)))


# --------------------------------------------------------------------------- single steps
# The one-step functions are the reference answers of the chapter's exercises
# (utils.checkers.rnn) and the building blocks of the layers' forward passes.
def rnn_step(x, h_prev, params):
    """One vanilla RNN step. x (batch, input), h_prev (batch, hidden) -> h (batch, hidden)."""
    p = params
    return np.tanh(x @ p["W_x"].T + h_prev @ p["W_h"].T + p["b"])


def lstm_step(x, h_prev, c_prev, params):
    """One LSTM step (with peepholes if ``params`` has ``w_cf``, ``w_ci``, ``w_co``).

    x (batch, input), h_prev and c_prev (batch, hidden) -> (h, c), each (batch, hidden).
    """
    h, c, _ = _lstm_step_with_gates(x, h_prev, c_prev, params)
    return h, c


def _lstm_step_with_gates(x, h_prev, c_prev, p):
    peephole = "w_cf" in p
    a_f = x @ p["W_xf"].T + h_prev @ p["W_hf"].T + p["b_f"]  # (batch, hidden)
    a_i = x @ p["W_xi"].T + h_prev @ p["W_hi"].T + p["b_i"]
    if peephole:  # f and i peek at the previous cell state
        a_f = a_f + p["w_cf"] * c_prev
        a_i = a_i + p["w_ci"] * c_prev
    f = sigmoid(a_f)
    i = sigmoid(a_i)
    g = np.tanh(x @ p["W_xg"].T + h_prev @ p["W_hg"].T + p["b_g"])
    c = f * c_prev + i * g
    a_o = x @ p["W_xo"].T + h_prev @ p["W_ho"].T + p["b_o"]
    if peephole:  # o peeks at the *new* cell state
        a_o = a_o + p["w_co"] * c
    o = sigmoid(a_o)
    tanh_c = np.tanh(c)
    h = o * tanh_c
    return h, c, (f, i, g, o, tanh_c)


def gru_step(x, h_prev, params):
    """One GRU step (torch's variant). x (batch, input), h_prev (batch, hidden) -> h (batch, hidden)."""
    h, _ = _gru_step_with_gates(x, h_prev, params)
    return h


def _gru_step_with_gates(x, h_prev, p):
    r = sigmoid(x @ p["W_xr"].T + h_prev @ p["W_hr"].T + p["b_r"])  # (batch, hidden)
    z = sigmoid(x @ p["W_xz"].T + h_prev @ p["W_hz"].T + p["b_z"])
    hn = h_prev @ p["W_hn"].T + p["b_hn"]  # the recurrent part of the candidate, before r
    n = np.tanh(x @ p["W_xn"].T + p["b_xn"] + r * hn)
    h = (1.0 - z) * n + z * h_prev
    return h, (r, z, n, hn)


# --------------------------------------------------------------------------- input checks
def _as_rng(rng) -> np.random.Generator:
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    if isinstance(rng, np.random.Generator):
        return rng
    raise TypeError(f"rng must be a numpy Generator, an int seed or None, got {type(rng).__name__}")


def _as_float64(value, name: str, shape_doc: str, ndim: int) -> np.ndarray:
    if hasattr(value, "detach"):
        raise TypeError(f"{name} must be a NumPy array {shape_doc}, got a torch tensor; use .numpy()")
    array = np.asarray(value)
    if array.dtype == bool or not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
    array = np.asarray(array, dtype=np.float64)  # no copy when already float64
    if array.ndim != ndim:
        raise ValueError(f"{name} must have shape {shape_doc}, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or inf")
    return array


# --------------------------------------------------------------------------- layers
class _Recurrent:
    """What the four layers share: init, input checks, the two output modes."""

    kind = "recurrent"
    # (name, "x" | "h" | "b" | "c") for each parameter; "c" are the peephole vectors.
    param_layout: tuple[tuple[str, str], ...] = ()
    has_cell = False

    def __init__(self, input_size: int, hidden_size: int, rng=None):
        self.input_size = positive_int("input_size", input_size)
        self.hidden_size = positive_int("hidden_size", hidden_size)
        rng = _as_rng(rng)
        # torch's initialisation: every weight and bias ~ U(-1/sqrt(hidden), 1/sqrt(hidden)).
        bound = 1.0 / np.sqrt(self.hidden_size)
        shapes = {
            "x": (self.hidden_size, self.input_size),
            "h": (self.hidden_size, self.hidden_size),
            "b": (self.hidden_size,),
            "c": (self.hidden_size,),
        }
        shape_docs = {"x": "(hidden_size, input_size)", "h": "(hidden_size, hidden_size)",
                      "b": "(hidden_size,)", "c": "(hidden_size,)"}
        # What forward checks: a parameter overwritten with a wrong shape would broadcast silently.
        self._param_shapes = {name: (shapes[kind], shape_docs[kind]) for name, kind in self.param_layout}
        self.params = {
            name: rng.uniform(-bound, bound, size=shapes[kind]) for name, kind in self.param_layout
        }
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}
        self.cache = None
        self.dh0 = None
        self.dc0 = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(input_size={self.input_size}, hidden_size={self.hidden_size})"

    def _check_params(self) -> None:
        """Every parameter is a finite float array of its shape (broadcasting would hide a wrong one)."""
        name = type(self).__name__
        missing = [k for k in self._param_shapes if k not in self.params]
        if missing:
            raise KeyError(f"{name}: params is missing {missing}")
        for key, (shape, shape_doc) in self._param_shapes.items():
            value = self.params[key]
            if not isinstance(value, np.ndarray) or not np.issubdtype(value.dtype, np.floating):
                raise TypeError(f"{name}: params[{key!r}] must be a float NumPy array, got "
                                f"{type(value).__name__}" + (f" of dtype {value.dtype}"
                                                             if isinstance(value, np.ndarray) else ""))
            if value.shape != shape:
                raise ValueError(f"{name}: params[{key!r}] has shape {value.shape}, expected "
                                 f"{shape_doc} = {shape}")
            if not np.all(np.isfinite(value)):
                raise ValueError(f"{name}: params[{key!r}] contains NaN or inf")

    def _check_input(self, x, h0, c0=None):
        name = type(self).__name__
        self._check_params()
        x = _as_float64(x, "x", "(batch, T, input_size)", 3)
        batch, steps, features = x.shape
        if batch == 0:
            raise ValueError(f"{name}: x has an empty batch (shape {x.shape})")
        if steps == 0:
            raise ValueError(f"{name}: x is an empty sequence (T = 0, shape {x.shape}); need T >= 1")
        if features != self.input_size:
            raise ValueError(
                f"{name}: x has {features} features per step but input_size is {self.input_size} "
                f"(x must be (batch, T, input_size), batch first; got {x.shape})"
            )
        states = []
        for state, state_name in ((h0, "h0"), (c0, "c0")):
            if state is None:
                states.append(np.zeros((batch, self.hidden_size)))
                continue
            state = _as_float64(state, state_name, "(batch, hidden_size)", 2)
            if state.shape != (batch, self.hidden_size):
                raise ValueError(
                    f"{name}: {state_name} must have shape (batch, hidden_size) = "
                    f"{(batch, self.hidden_size)}, got {state.shape}"
                )
            states.append(state)
        return x, states[0], states[1]

    def _check_dh(self, dh) -> np.ndarray:
        """Return dh as (batch, T, hidden): a last-state-only gradient is zero-padded."""
        name = type(self).__name__
        if self.cache is None:
            raise RuntimeError(f"{name}.backward called before forward")
        batch, steps = self.cache["x"].shape[:2]
        dh = _as_float64(dh, "dh", "(batch, T, hidden) or (batch, hidden)", np.ndim(dh))
        if dh.shape == (batch, self.hidden_size):  # gradient w.r.t. the last state only
            full = np.zeros((batch, steps, self.hidden_size))
            full[:, -1] = dh
            return full
        if dh.shape == (batch, steps, self.hidden_size):
            return dh
        raise ValueError(
            f"{name}.backward: dh must have shape (batch, T, hidden) = {(batch, steps, self.hidden_size)} "
            f"(all states) or (batch, hidden) = {(batch, self.hidden_size)} (last state), got {dh.shape}"
        )

    def _zero_grads(self) -> None:
        for g in self.grads.values():
            g[...] = 0.0

    def _output(self, hs: np.ndarray, return_sequences: bool) -> np.ndarray:
        return hs if return_sequences else hs[:, -1]


class RNN(_Recurrent):
    """Vanilla (Elman) RNN: h_t = tanh(W_x x_t + W_h h_{t-1} + b).

    forward(x (batch, T, input), h0=None (batch, hidden), return_sequences=True)
        -> hs (batch, T, hidden), or h_T (batch, hidden) when return_sequences=False.
    backward(dh) -> dx (batch, T, input); fills grads["W_x"], ["W_h"], ["b"]; keeps dh0.
    """

    kind = "rnn"
    param_layout = (("W_x", "x"), ("W_h", "h"), ("b", "b"))

    def forward(self, x, h0=None, return_sequences: bool = True) -> np.ndarray:
        # "no" is a truthy string: read as True it would silently return every state.
        return_sequences = boolean("return_sequences", return_sequences)
        x, h, _ = self._check_input(x, h0)
        batch, steps, _ = x.shape
        hs = np.empty((batch, steps + 1, self.hidden_size))  # hs[:, 0] = h0, hs[:, t+1] = h_t
        hs[:, 0] = h
        for t in range(steps):
            hs[:, t + 1] = rnn_step(x[:, t], hs[:, t], self.params)
        self.cache = {"x": x, "hs": hs}
        return self._output(hs[:, 1:], return_sequences)

    def backward(self, dh) -> np.ndarray:
        dh = self._check_dh(dh)  # (batch, T, hidden)
        x, hs = self.cache["x"], self.cache["hs"]
        p, g = self.params, self.grads
        self._zero_grads()
        dx = np.empty_like(x)
        dh_next = np.zeros_like(hs[:, 0])  # gradient flowing back from step t+1
        for t in reversed(range(x.shape[1])):
            dh_t = dh[:, t] + dh_next  # h_t feeds the output at t *and* the step t+1
            da = dh_t * (1.0 - hs[:, t + 1] ** 2)  # (batch, hidden): through tanh
            g["W_x"] += da.T @ x[:, t]
            g["W_h"] += da.T @ hs[:, t]
            g["b"] += da.sum(axis=0)
            dx[:, t] = da @ p["W_x"]
            dh_next = da @ p["W_h"]
        self.dh0 = dh_next
        return dx


class LSTM(_Recurrent):
    """LSTM with forget, input, candidate and output gates (torch's equations).

    forward(x (batch, T, input), h0=None, c0=None, return_sequences=True)
        -> hs (batch, T, hidden), or h_T (batch, hidden) when return_sequences=False.
        The cell states are kept in ``self.cs`` (batch, T, hidden) after forward.
    backward(dh, dc=None) -> dx (batch, T, input); fills grads; keeps dh0 and dc0. ``dc``
        (batch, T, hidden), optional: the gradient reaching the cell states c_1..c_T from outside
        the layer (e.g. a decoder that starts from c_T); zeros when None.
    """

    kind = "lstm"
    has_cell = True
    param_layout = (
        ("W_xf", "x"), ("W_hf", "h"), ("b_f", "b"),
        ("W_xi", "x"), ("W_hi", "h"), ("b_i", "b"),
        ("W_xg", "x"), ("W_hg", "h"), ("b_g", "b"),
        ("W_xo", "x"), ("W_ho", "h"), ("b_o", "b"),
    )
    peephole = False

    def forward(self, x, h0=None, c0=None, return_sequences: bool = True) -> np.ndarray:
        # "no" is a truthy string: read as True it would silently return every state.
        return_sequences = boolean("return_sequences", return_sequences)
        x, h, c = self._check_input(x, h0, c0)
        batch, steps, _ = x.shape
        hs = np.empty((batch, steps + 1, self.hidden_size))  # index 0 holds the initial state
        cs = np.empty((batch, steps + 1, self.hidden_size))
        hs[:, 0], cs[:, 0] = h, c
        gates = []
        for t in range(steps):
            hs[:, t + 1], cs[:, t + 1], step_gates = _lstm_step_with_gates(
                x[:, t], hs[:, t], cs[:, t], self.params
            )
            gates.append(step_gates)
        self.cache = {"x": x, "hs": hs, "cs": cs, "gates": gates}
        self.cs = cs[:, 1:]
        return self._output(hs[:, 1:], return_sequences)

    def backward(self, dh, dc=None) -> np.ndarray:
        dh = self._check_dh(dh)  # (batch, T, hidden)
        dc_out = None  # (batch, T, hidden): dL/dc_t from outside the layer
        if dc is not None:
            dc_out = _as_float64(dc, "dc", "(batch, T, hidden)", np.ndim(dc))
            if dc_out.shape != dh.shape:
                raise ValueError(f"dc must have the shape of dh {dh.shape} (batch, T, hidden), got {dc_out.shape}")
        x, hs, cs, gates = (self.cache[k] for k in ("x", "hs", "cs", "gates"))
        p, g = self.params, self.grads
        self._zero_grads()
        dx = np.zeros_like(x)
        dh_next = np.zeros_like(hs[:, 0])
        dc_next = np.zeros_like(cs[:, 0])
        for t in reversed(range(x.shape[1])):
            f, i, cand, o, tanh_c = gates[t]
            c_prev, c, h_prev, x_t = cs[:, t], cs[:, t + 1], hs[:, t], x[:, t]
            dh_t = dh[:, t] + dh_next
            # h_t = o ⊙ tanh(c_t)
            da_o = dh_t * tanh_c * o * (1.0 - o)  # through the sigmoid of o
            dc = dc_next + dh_t * o * (1.0 - tanh_c**2)
            if dc_out is not None:  # c_t is also read outside the layer
                dc = dc + dc_out[:, t]
            if self.peephole:  # o_t reads c_t, so c_t gets a second path
                dc = dc + da_o * p["w_co"]
                g["w_co"] += (da_o * c).sum(axis=0)
            # c_t = f ⊙ c_{t-1} + i ⊙ g
            da_f = dc * c_prev * f * (1.0 - f)
            da_i = dc * cand * i * (1.0 - i)
            da_g = dc * i * (1.0 - cand**2)
            dc_next = dc * f
            if self.peephole:
                dc_next = dc_next + da_f * p["w_cf"] + da_i * p["w_ci"]
                g["w_cf"] += (da_f * c_prev).sum(axis=0)
                g["w_ci"] += (da_i * c_prev).sum(axis=0)
            dh_next = np.zeros_like(dh_t)
            for gate, da in (("f", da_f), ("i", da_i), ("g", da_g), ("o", da_o)):
                g[f"W_x{gate}"] += da.T @ x_t
                g[f"W_h{gate}"] += da.T @ h_prev
                g[f"b_{gate}"] += da.sum(axis=0)
                dx[:, t] += da @ p[f"W_x{gate}"]
                dh_next += da @ p[f"W_h{gate}"]
        self.dh0, self.dc0 = dh_next, dc_next
        return dx


class PeepholeLSTM(LSTM):
    """LSTM whose gates also read the cell state (Gers & Schmidhuber, 2000).

    f_t and i_t add w_cf ⊙ c_{t-1} and w_ci ⊙ c_{t-1}; o_t adds w_co ⊙ c_t (the *new* cell
    state). The peephole weights W_cf, W_ci, W_co are diagonal, so they are stored as the
    vectors ``w_cf``, ``w_ci``, ``w_co`` (hidden,). Same interface as :class:`LSTM`.
    """

    kind = "peephole_lstm"
    param_layout = LSTM.param_layout + (("w_cf", "c"), ("w_ci", "c"), ("w_co", "c"))
    peephole = True


class GRU(_Recurrent):
    """GRU with reset gate r, update gate z and candidate n (torch's variant).

    forward(x (batch, T, input), h0=None, return_sequences=True)
        -> hs (batch, T, hidden), or h_T (batch, hidden) when return_sequences=False.
    backward(dh) -> dx (batch, T, input); fills grads; keeps dh0.
    """

    kind = "gru"
    param_layout = (
        ("W_xr", "x"), ("W_hr", "h"), ("b_r", "b"),
        ("W_xz", "x"), ("W_hz", "h"), ("b_z", "b"),
        ("W_xn", "x"), ("W_hn", "h"), ("b_xn", "b"), ("b_hn", "b"),
    )

    def forward(self, x, h0=None, return_sequences: bool = True) -> np.ndarray:
        # "no" is a truthy string: read as True it would silently return every state.
        return_sequences = boolean("return_sequences", return_sequences)
        x, h, _ = self._check_input(x, h0)
        batch, steps, _ = x.shape
        hs = np.empty((batch, steps + 1, self.hidden_size))
        hs[:, 0] = h
        gates = []
        for t in range(steps):
            hs[:, t + 1], step_gates = _gru_step_with_gates(x[:, t], hs[:, t], self.params)
            gates.append(step_gates)
        self.cache = {"x": x, "hs": hs, "gates": gates}
        return self._output(hs[:, 1:], return_sequences)

    def backward(self, dh) -> np.ndarray:
        dh = self._check_dh(dh)  # (batch, T, hidden)
        x, hs, gates = self.cache["x"], self.cache["hs"], self.cache["gates"]
        p, g = self.params, self.grads
        self._zero_grads()
        dx = np.empty_like(x)
        dh_next = np.zeros_like(hs[:, 0])
        for t in reversed(range(x.shape[1])):
            r, z, n, hn = gates[t]
            h_prev, x_t = hs[:, t], x[:, t]
            dh_t = dh[:, t] + dh_next
            # h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}
            dn = dh_t * (1.0 - z)
            da_z = dh_t * (h_prev - n) * z * (1.0 - z)
            dh_prev = dh_t * z
            # n = tanh(W_xn x + b_xn + r ⊙ hn), hn = W_hn h_{t-1} + b_hn
            da_n = dn * (1.0 - n**2)
            da_r = da_n * hn * r * (1.0 - r)
            dhn = da_n * r
            g["W_xn"] += da_n.T @ x_t
            g["b_xn"] += da_n.sum(axis=0)
            g["W_hn"] += dhn.T @ h_prev
            g["b_hn"] += dhn.sum(axis=0)
            dx_t = da_n @ p["W_xn"]
            dh_prev = dh_prev + dhn @ p["W_hn"]
            for gate, da in (("r", da_r), ("z", da_z)):
                g[f"W_x{gate}"] += da.T @ x_t
                g[f"W_h{gate}"] += da.T @ h_prev
                g[f"b_{gate}"] += da.sum(axis=0)
                dx_t = dx_t + da @ p[f"W_x{gate}"]
                dh_prev = dh_prev + da @ p[f"W_h{gate}"]
            dx[:, t] = dx_t
            dh_next = dh_prev
        self.dh0 = dh_next
        return dx

"""Residual (skip) connections from scratch in NumPy, and deep stacks of time layers.

A **residual block** adds a layer's input to its output,

    y = x + F(x),

so its backward pass is ``dx = dy + dF/dx^T dy``: the upstream gradient ``dy`` reaches ``x``
*unchanged* through the addition, whatever ``F`` does to its share. Stacking ``L`` plain layers
multiplies ``L`` Jacobians on the way down (the gradient shrinks or grows geometrically with
depth, as it does with time in chapter 01); stacking residual blocks gives every layer a path
to the loss with no multiplication on it.

The pieces (each a small class with ``params``, ``grads``, ``forward`` and ``backward``, so
:func:`utils.scratch.gradcheck.check_layer` verifies them):

* :class:`TanhDense`: ``F(x) = tanh(x W^T + b)`` over the last axis (the exercise's block);
* :class:`Residual`: wraps any layer whose output has the shape of its input;
* :class:`Stack`: layers applied one after another, e.g. RNN layers of chapter 01
  (``(batch, T, hidden)`` in and out), with the gradient that reached each layer kept after
  ``backward``;
* :func:`deep_rnn`: ``depth`` recurrent layers of one size, plain or residual from layer 2 on
  (the layout of the torch model's ``layers=``, ``residual=True``);
* :func:`depthwise_gradient_norms`: one forward and backward pass through a stack, and the
  norm of the gradient of each layer's parameters.
"""
from __future__ import annotations

import numpy as np

from .rnn import GRU, LSTM, RNN

__all__ = ["RECURRENT_CELLS", "Residual", "Stack", "TanhDense", "deep_rnn", "depthwise_gradient_norms"]

RECURRENT_CELLS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}


def _as_rng(rng) -> np.random.Generator:
    if rng is None or isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(rng)
    if isinstance(rng, np.random.Generator):
        return rng
    raise TypeError(f"rng must be a numpy Generator, an int seed or None, got {type(rng).__name__}")


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _as_float64(value, name: str) -> np.ndarray:
    if hasattr(value, "detach"):
        raise TypeError(f"{name} must be a NumPy array, got a torch tensor; use .numpy()")
    array = np.asarray(value)
    if array.dtype == bool or not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
    array = np.asarray(array, dtype=np.float64)
    if array.ndim == 0 or 0 in array.shape:
        raise ValueError(f"{name} must be a non-empty array, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or inf")
    return array


class TanhDense:
    """F(x) = tanh(x W^T + b), applied to the last axis of x (any leading axes).

    size: D, the size of the input and of the output (square, so it can sit in a residual block).
    params: ``W`` (D, D), ``b`` (D,), torch's ``nn.Linear`` initialisation U(-1/sqrt(D), 1/sqrt(D)).
    forward(x (..., D)) -> (..., D); backward(dout (..., D)) -> dx (..., D), fills ``grads``.
    """

    def __init__(self, size: int, rng=None):
        self.size = _positive_int("size", size)
        rng = _as_rng(rng)
        bound = 1.0 / np.sqrt(self.size)
        self.params = {"W": rng.uniform(-bound, bound, (self.size, self.size)),
                       "b": rng.uniform(-bound, bound, self.size)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.cache = None

    def __repr__(self) -> str:
        return f"TanhDense(size={self.size})"

    def forward(self, x) -> np.ndarray:
        x = _as_float64(x, "x")
        if x.shape[-1] != self.size:
            raise ValueError(f"TanhDense: x must be (..., {self.size}) (last axis = size), got {x.shape}")
        out = np.tanh(x @ self.params["W"].T + self.params["b"])  # (..., D)
        self.cache = (x, out)
        return out

    def backward(self, dout) -> np.ndarray:
        if self.cache is None:
            raise RuntimeError("TanhDense.backward called before forward")
        x, out = self.cache
        dout = _as_float64(dout, "dout")
        if dout.shape != out.shape:
            raise ValueError(f"TanhDense.backward: dout must have the output's shape {out.shape}, got {dout.shape}")
        da = dout * (1.0 - out**2)  # (..., D): through tanh
        flat_da, flat_x = da.reshape(-1, self.size), x.reshape(-1, self.size)  # (N, D): every leading axis is a sum
        self.grads["W"][...] = flat_da.T @ flat_x  # in place: Stack and gradcheck hold these arrays
        self.grads["b"][...] = flat_da.sum(axis=0)
        return da @ self.params["W"]  # (..., D)


class Residual:
    """A residual block y = x + F(x) around ``inner`` (the layer F).

    inner: a layer with ``params``, ``grads``, ``forward(x)`` and ``backward(dout) -> dx``
        whose output has the shape of its input; a recurrent layer needs
        ``input_size == hidden_size``.
    ``params`` and ``grads`` are the inner layer's (the addition has no weights).
    forward(x) -> x + inner.forward(x); backward(dy) -> dy + inner.backward(dy):
    the identity path hands ``dy`` to ``x`` unchanged.
    """

    def __init__(self, inner):
        for attribute in ("params", "grads", "forward", "backward"):
            if not hasattr(inner, attribute):
                raise TypeError(f"Residual needs a layer with params, grads, forward and backward; "
                                f"{type(inner).__name__} has no {attribute!r}")
        sizes = (getattr(inner, "input_size", None), getattr(inner, "hidden_size", None))
        if None not in sizes and sizes[0] != sizes[1]:
            raise ValueError(
                f"Residual: y = x + F(x) needs F's output to have x's size, but {inner!r} maps "
                f"{sizes[0]} features to {sizes[1]}; use input_size == hidden_size "
                "(or no skip connection on a layer that changes the size)"
            )
        self.inner = inner
        self.params = inner.params
        self.grads = inner.grads

    def __repr__(self) -> str:
        return f"Residual({self.inner!r})"

    def forward(self, x) -> np.ndarray:
        x = _as_float64(x, "x")
        fx = self.inner.forward(x)  # F(x)
        if np.shape(fx) != x.shape:
            raise ValueError(f"Residual: F(x) has shape {np.shape(fx)} but x has {x.shape}; "
                             "y = x + F(x) needs the same shape")
        self.cache = x.shape
        return x + fx

    def backward(self, dy) -> np.ndarray:
        if getattr(self, "cache", None) is None:
            raise RuntimeError("Residual.backward called before forward")
        dy = _as_float64(dy, "dy")
        if dy.shape != self.cache:
            raise ValueError(f"Residual.backward: dy must have the output's shape {self.cache}, got {dy.shape}")
        dx_through_f = self.inner.backward(dy)  # dF/dx^T dy
        return dy + dx_through_f  # the skip path adds dy itself: d(x)/dx = I


class Stack:
    """Layers applied one after another: x -> layers[0] -> layers[1] -> ... -> output.

    layers: a non-empty list of layers with ``params``, ``grads``, ``forward(x)`` and
        ``backward(dout) -> dx`` (one input, one output each).
    ``params``/``grads`` name each array ``"layer{l}.{name}"`` (l = 1 at the bottom) and are the
    layers' own arrays, so ``check_layer(stack, x)`` checks every layer at once.
    After ``backward``, ``output_grads[l - 1]`` is dL/d(output of layer l) (what reached layer l
    from above) and ``input_grads[l - 1]`` is dL/d(input of layer l).
    """

    def __init__(self, layers):
        layers = list(layers)
        if not layers:
            raise ValueError("Stack needs at least one layer")
        for number, layer in enumerate(layers, start=1):
            for attribute in ("params", "grads", "forward", "backward"):
                if not hasattr(layer, attribute):
                    raise TypeError(f"Stack: layer {number} ({type(layer).__name__}) has no {attribute!r}")
        self.layers = layers
        self.output_grads: list[np.ndarray] = []
        self.input_grads: list[np.ndarray] = []
        self._ran_forward = False

    def __repr__(self) -> str:
        return "Stack([" + ", ".join(map(repr, self.layers)) + "])"

    def __len__(self) -> int:
        return len(self.layers)

    @property
    def params(self) -> dict[str, np.ndarray]:
        return {f"layer{number}.{k}": v
                for number, layer in enumerate(self.layers, 1) for k, v in layer.params.items()}

    @property
    def grads(self) -> dict[str, np.ndarray]:
        return {f"layer{number}.{k}": v
                for number, layer in enumerate(self.layers, 1) for k, v in layer.grads.items()}

    def forward(self, x) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x)
        self._ran_forward = True
        return x

    def backward(self, dout) -> np.ndarray:
        if not self._ran_forward:
            raise RuntimeError("Stack.backward called before forward")
        output_grads, input_grads = [], []
        grad = dout
        for layer in reversed(self.layers):
            output_grads.append(np.asarray(grad))
            grad = layer.backward(grad)
            input_grads.append(grad)
        self.output_grads, self.input_grads = output_grads[::-1], input_grads[::-1]
        return grad

    def layer_gradient_norms(self) -> np.ndarray:
        """(L,) the norm of each layer's parameter gradient sqrt(sum of squares), bottom first."""
        if not self.output_grads:
            raise RuntimeError("layer_gradient_norms needs a backward pass first")
        return np.array([np.sqrt(sum(float(np.sum(g**2)) for g in layer.grads.values()))
                         for layer in self.layers])


def deep_rnn(depth: int, size: int, cell: str = "lstm", residual: bool = False, rng=None) -> Stack:
    """A :class:`Stack` of ``depth`` recurrent layers (chapter 01's NumPy cells), all ``size`` wide.

    cell: ``"rnn"``, ``"lstm"`` or ``"gru"``. residual: wrap layers 2..depth in :class:`Residual`
    (``h^(l) = h^(l-1) + RNN_l(h^(l-1))``); layer 1 stays plain, as in the torch model, whose
    first layer maps the embeddings to the hidden size. Input and output: ``(batch, T, size)``.
    """
    depth = _positive_int("depth", depth)
    size = _positive_int("size", size)
    if cell not in RECURRENT_CELLS:
        raise ValueError(f"cell must be one of {sorted(RECURRENT_CELLS)}, got {cell!r}")
    if not isinstance(residual, (bool, np.bool_)):
        raise TypeError(f"residual must be True or False, got {residual!r}")
    rng = _as_rng(rng)
    layers = []
    for number in range(1, depth + 1):
        layer = RECURRENT_CELLS[cell](size, size, rng=rng)
        layers.append(Residual(layer) if residual and number > 1 else layer)
    return Stack(layers)


def depthwise_gradient_norms(stack: Stack, x, seed: int = 0) -> np.ndarray:
    """Per-layer parameter-gradient norms for the loss L = sum(output * g), g ~ N(0, 1) fixed by ``seed``.

    stack: a :class:`Stack`; x: its input (e.g. ``(batch, T, size)``).
    Returns ``(L,)`` float array, bottom layer first: ``||dL/dtheta_l||`` for each layer l.
    """
    if not isinstance(stack, Stack):
        raise TypeError(f"stack must be a Stack, got {type(stack).__name__}")
    out = stack.forward(x)
    upstream = np.random.default_rng(seed).standard_normal(out.shape)  # the same g for every stack
    stack.backward(upstream)
    return stack.layer_gradient_norms()

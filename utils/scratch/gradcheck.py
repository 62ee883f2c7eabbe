"""Numerical gradient check for the from-scratch NumPy layers.

A hand-written backward pass is trusted only after it agrees with a *numerical* gradient:
nudge each entry of a parameter by ``+eps`` and ``-eps``, re-run the forward pass, and take the
central difference

.. math::
    \\frac{\\partial L}{\\partial x_i}
    \\approx \\frac{L(x + \\varepsilon e_i) - L(x - \\varepsilon e_i)}{2\\varepsilon}

whose error is O(eps^2). The two gradients are compared with the norm-based relative error
(see :func:`relative_error`); in float64 a correct backward pass gives about 1e-9 to 1e-11,
a wrong one gives 1e-2 or more, so the course uses ``< 1e-6`` as its pass mark.

Everything here needs **float64** arrays: float32 has only ~7 significant digits, so a
central difference with ``eps=1e-6`` is mostly rounding noise and cannot reach 1e-6.

Typical use on a layer with ``params``, ``grads``, ``forward`` and ``backward``::

    errors = check_layer(layer, x)          # {"W_x": 3e-10, ..., "input": 2e-10}
    assert max(errors.values()) < 1e-6
"""
from __future__ import annotations

from typing import Callable, Mapping

import numpy as np

from ..validate import positive_float

__all__ = ["numerical_gradient", "relative_error", "gradient_check", "check_layer"]


#: The smallest eps numerical_gradient accepts: below it rounding error swamps the difference.
MIN_EPS = 1e-12


def _require_float64(name: str, array) -> None:
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(array).__name__}")
    if array.dtype != np.float64:
        raise TypeError(
            f"{name} has dtype {array.dtype}; gradient checks need float64 "
            "(float32 keeps ~7 digits, too few for a central difference to reach 1e-6)"
        )


def _scalar_loss(f: Callable[[], float]) -> float:
    value = f()
    value = np.asarray(value)
    if value.size != 1:
        raise ValueError(f"f() must return a scalar loss, got an array of shape {value.shape}")
    value = float(value.reshape(()))
    if not np.isfinite(value):
        raise ValueError(f"f() returned a non-finite loss ({value}); cannot differentiate it")
    return value


def numerical_gradient(f: Callable[[], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of the scalar function ``f()`` with respect to ``x``.

    f: a function of **no arguments** that reads ``x`` (e.g. a closure over a layer whose
       parameter array *is* ``x``) and returns a scalar.
    x: float64 array of any shape. Each entry is perturbed **in place** by +eps and -eps and
       restored afterwards, so ``f`` must read the same array object, not a copy.
    Returns an array of ``x.shape``: ``(f(x + eps e_i) - f(x - eps e_i)) / (2 eps)`` per entry.
    """
    _require_float64("x", x)
    if not x.flags.writeable:
        raise ValueError("x must be writeable: it is perturbed in place")
    if x.size == 0:
        raise ValueError(f"x is empty (shape {x.shape}): there is no entry to differentiate with respect to")
    eps = positive_float("eps", eps)
    if eps < MIN_EPS:
        raise ValueError(f"eps={eps:g} is too small: a float64 central difference has a rounding error of about "
                         f"1e-16 * |f| / eps, so below {MIN_EPS:g} it is noise (or exactly 0); use about 1e-6")
    # x + eps must differ from x, or the difference quotient is 0 / (2 eps) = 0 for a wrong reason.
    lost = (x + eps == x) | (x - eps == x)
    if lost.any():
        where = tuple(int(i) for i in np.argwhere(lost)[0])
        raise ValueError(
            f"eps={eps:g} is below the float64 resolution of x at index {where} (x = {x[where]:g}): "
            "x + eps == x, so every difference would be 0; use an eps near 1e-6 times the size of x")
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    for _ in it:
        i = it.multi_index
        original = x[i]
        try:
            x[i] = original + eps
            plus = _scalar_loss(f)
            x[i] = original - eps
            minus = _scalar_loss(f)
        finally:
            x[i] = original  # restore even if f raises
        grad[i] = (plus - minus) / (2 * eps)
    return grad


def relative_error(analytic, numeric) -> float:
    """Norm-based relative error ``||a - n|| / (||a|| + ||n||)`` (Frobenius norms).

    Unlike an element-wise ratio, it is not blown up by entries that are tiny in both
    gradients (where rounding noise dominates). It is 0 for identical arrays, at most 1, and
    0 when both gradients are exactly zero. Shapes must match.
    """
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    if a.shape != n.shape:
        raise ValueError(f"shape mismatch: analytic {a.shape} vs numeric {n.shape}")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(n))):
        raise ValueError("gradients contain NaN or inf")
    denominator = np.linalg.norm(a) + np.linalg.norm(n)
    if denominator == 0.0:
        return 0.0
    return float(np.linalg.norm(a - n) / denominator)


def gradient_check(
    f: Callable[[], float],
    params: Mapping[str, np.ndarray],
    grads: Mapping[str, np.ndarray],
    eps: float = 1e-6,
) -> dict[str, float]:
    """Relative error between analytic ``grads`` and numerical gradients of ``f()``.

    f: scalar loss of no arguments, reading the arrays in ``params`` (perturbed in place).
    params, grads: dicts with the same keys; ``grads[k]`` has the shape of ``params[k]``.
    Returns ``{name: relative_error}`` in the order of ``params``.
    Raises KeyError for missing/extra keys, ValueError for shape mismatches and TypeError for
    arrays that are not float64. Raises ValueError when a parameter's analytic *and* numerical
    gradients are both all zero: their relative error would be 0 and "pass", yet it only says
    that the loss never reads that parameter, a bug in the layer or in the check.
    """
    missing = [k for k in params if k not in grads]
    extra = [k for k in grads if k not in params]
    if missing or extra:
        raise KeyError(
            f"params and grads must have the same keys; no gradient for {missing}, "
            f"gradient without a parameter for {extra}"
        )
    for name, p in params.items():
        _require_float64(f"params[{name!r}]", p)
        _require_float64(f"grads[{name!r}]", grads[name])
        if p.shape != grads[name].shape:
            raise ValueError(
                f"grads[{name!r}] has shape {grads[name].shape}, params[{name!r}] has {p.shape}"
            )
    # Copy the analytic gradients first: calling f() may run code that overwrites grads.
    analytic = {name: np.array(grads[name], copy=True) for name in params}
    errors = {}
    for name in params:
        numeric = numerical_gradient(f, params[name], eps)
        _require_some_gradient(f"parameter {name!r}", analytic[name], numeric)
        errors[name] = relative_error(analytic[name], numeric)
    return errors


def _require_some_gradient(what: str, analytic: np.ndarray, numeric: np.ndarray) -> None:
    if not np.any(analytic) and not np.any(numeric):
        raise ValueError(
            f"{what}: the analytic and the numerical gradient are both all zero, so the check "
            "proves nothing (their relative error is 0 by definition). The loss does not depend "
            "on it: the forward pass never reads it, or the check's loss ignores the output it "
            "feeds. That is a bug in the layer or in the check."
        )


def check_layer(layer, *inputs: np.ndarray, eps: float = 1e-6, seed: int = 0, **forward_kwargs):
    """Gradient-check a layer's parameters *and* its input gradients.

    layer: object with ``params`` and ``grads`` (dicts of float64 arrays), ``forward(*inputs,
        **forward_kwargs) -> out`` (one array) and ``backward(dout)`` that fills ``grads`` and
        returns the input gradient (one array, or a tuple with one array per input).
    inputs: the float64 input arrays.
    The loss is ``sum(out * dout)`` with a fixed random upstream gradient ``dout`` (seeded by
    ``seed``), so every output entry matters with a different weight.
    Returns ``{param_name: error, ..., "input": error}`` (with one input) or
    ``"input0"``, ``"input1"``, ... (with several). Raises ValueError when a parameter or an
    input has an all-zero gradient both ways (the forward pass never reads it).
    """
    if not inputs:
        raise ValueError("check_layer needs at least one input array")
    for k, x in enumerate(inputs):
        _require_float64(f"input {k}", x)
    out = layer.forward(*inputs, **forward_kwargs)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"layer.forward must return one numpy array, got {type(out).__name__}")
    dout = np.random.default_rng(seed).standard_normal(out.shape)
    dinputs = layer.backward(dout)
    if not isinstance(dinputs, tuple):
        dinputs = (dinputs,)
    if len(dinputs) != len(inputs):
        raise ValueError(
            f"layer.backward returned {len(dinputs)} input gradient(s) for {len(inputs)} input(s)"
        )

    def loss() -> float:
        return float(np.sum(layer.forward(*inputs, **forward_kwargs) * dout))

    errors = gradient_check(loss, layer.params, layer.grads, eps)
    names = ["input"] if len(inputs) == 1 else [f"input{k}" for k in range(len(inputs))]
    for name, x, dx in zip(names, inputs, dinputs):
        dx = np.asarray(dx)
        if dx.shape != x.shape:
            raise ValueError(f"gradient of {name} has shape {dx.shape}, the input has {x.shape}")
        numeric = numerical_gradient(loss, x, eps)
        _require_some_gradient(name, dx, numeric)
        errors[name] = relative_error(dx, numeric)
    return errors

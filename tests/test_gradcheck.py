"""utils.scratch.gradcheck: numerical gradients, relative error, and the layer-level check."""
import numpy as np
import pytest

from utils.scratch.gradcheck import check_layer, gradient_check, numerical_gradient, relative_error


def test_numerical_gradient_of_known_function_and_restores_x():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4))
    before = x.copy()
    grad = numerical_gradient(lambda: np.sum(np.sin(x) * x), x)
    np.testing.assert_allclose(grad, np.cos(before) * before + np.sin(before), atol=1e-8)
    np.testing.assert_array_equal(x, before)  # every perturbation undone


def test_numerical_gradient_restores_x_when_f_raises():
    x = np.ones(3)

    def f():
        if x[0] != 1.0:
            raise RuntimeError("boom")
        return x.sum()

    with pytest.raises(RuntimeError):
        numerical_gradient(f, x)
    np.testing.assert_array_equal(x, np.ones(3))


def test_numerical_gradient_rejects_bad_input():
    with pytest.raises(TypeError, match="float64"):
        numerical_gradient(lambda: 0.0, np.ones(3, dtype=np.float32))
    with pytest.raises(TypeError, match="numpy array"):
        numerical_gradient(lambda: 0.0, [1.0, 2.0])
    x = np.ones(3)
    with pytest.raises(ValueError, match="scalar"):
        numerical_gradient(lambda: x * 2, x)
    with pytest.raises(ValueError, match="non-finite"):
        numerical_gradient(lambda: np.nan, x)
    with pytest.raises(ValueError, match="eps must be > 0.0, got 0.0"):
        numerical_gradient(lambda: x.sum(), x, eps=0.0)


def test_numerical_gradient_refuses_an_empty_array():
    with pytest.raises(ValueError, match=r"x is empty \(shape \(0,\)\): there is no entry to differentiate"):
        numerical_gradient(lambda: 0.0, np.zeros(0))


def test_numerical_gradient_refuses_an_eps_below_float64_resolution():
    """With eps=1e-20, x + eps == x for x = 1: every difference is 0 and the gradient came out as zeros."""
    x = np.array([1.0, 2.0])
    for eps in (1e-20, 1e-13):
        with pytest.raises(ValueError, match=f"eps={eps:g} is too small"):
            numerical_gradient(lambda: float((x**2).sum()), x, eps=eps)
    big = np.array([1e6, 2.0])  # 1e6 + 1e-11 == 1e6 in float64
    with pytest.raises(ValueError, match=r"eps=1e-11 is below the float64 resolution of x at index \(0,\)"):
        numerical_gradient(lambda: float((big**2).sum()), big, eps=1e-11)
    with pytest.raises(ValueError, match="eps must be a finite number"):
        numerical_gradient(lambda: float((x**2).sum()), x, eps=float("nan"))
    np.testing.assert_allclose(numerical_gradient(lambda: float((x**2).sum()), x, eps=1e-6), [2.0, 4.0], rtol=1e-8)


def test_relative_error_properties():
    a = np.array([1.0, 2.0, 3.0])
    assert relative_error(a, a) == 0.0
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(a, -a) == pytest.approx(1.0)
    assert relative_error(a, a * (1 + 1e-8)) < 1e-8
    # tiny entries that disagree do not dominate the norm-based error
    assert relative_error([1.0, 1e-14], [1.0, 3e-14]) < 1e-12
    with pytest.raises(ValueError, match="shape"):
        relative_error(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="NaN"):
        relative_error(np.array([np.nan]), np.array([1.0]))


def test_gradient_check_correct_and_wrong_gradients():
    rng = np.random.default_rng(1)
    W = rng.standard_normal((4, 3))
    b = rng.standard_normal(3)
    x = rng.standard_normal((5, 4))

    def loss():
        return np.sum(np.tanh(x @ W + b) ** 2)

    y = np.tanh(x @ W + b)
    dz = 2 * y * (1 - y**2)
    good = {"W": x.T @ dz, "b": dz.sum(0)}
    errors = gradient_check(loss, {"W": W, "b": b}, good)
    assert list(errors) == ["W", "b"]
    assert max(errors.values()) < 1e-8
    wrong = {"W": x.T @ (2 * y), "b": dz.sum(0)}  # forgot the tanh derivative
    errors = gradient_check(loss, {"W": W, "b": b}, wrong)
    assert errors["W"] > 1e-2 and errors["b"] < 1e-8


def test_gradient_check_clear_errors():
    p = {"W": np.ones((2, 2))}
    with pytest.raises(KeyError, match="no gradient for \\['W'\\]"):
        gradient_check(lambda: 0.0, p, {})
    with pytest.raises(KeyError, match="without a parameter for \\['V'\\]"):
        gradient_check(lambda: 0.0, p, {"W": np.ones((2, 2)), "V": np.ones(1)})
    with pytest.raises(ValueError, match="shape"):
        gradient_check(lambda: 0.0, p, {"W": np.ones((2, 3))})
    with pytest.raises(TypeError, match="float64"):
        gradient_check(lambda: 0.0, {"W": np.ones(2, dtype=np.float32)}, {"W": np.ones(2)})


class _Affine:
    """y = x W + b."""

    def __init__(self, rng):
        self.params = {"W": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def forward(self, x):
        self.x = x
        return x @ self.params["W"] + self.params["b"]

    def backward(self, dout):
        self.grads["W"][...] = self.x.T @ dout
        self.grads["b"][...] = dout.sum(0)
        return dout @ self.params["W"].T


class _Bilinear:
    """Two inputs: out = (a W) * c."""

    def __init__(self, rng):
        self.params = {"W": rng.standard_normal((3, 2))}
        self.grads = {"W": np.zeros((3, 2))}

    def forward(self, a, c):
        self.a, self.c = a, c
        return (a @ self.params["W"]) * c

    def backward(self, dout):
        self.grads["W"][...] = self.a.T @ (dout * self.c)
        return (dout * self.c) @ self.params["W"].T, dout * (self.a @ self.params["W"])


def test_check_layer_one_and_two_inputs():
    rng = np.random.default_rng(2)
    errors = check_layer(_Affine(rng), rng.standard_normal((4, 3)))
    assert set(errors) == {"W", "b", "input"} and max(errors.values()) < 1e-8
    errors = check_layer(_Bilinear(rng), rng.standard_normal((4, 3)), rng.standard_normal((4, 2)))
    assert set(errors) == {"W", "input0", "input1"} and max(errors.values()) < 1e-8


def test_check_layer_catches_a_wrong_input_gradient():
    rng = np.random.default_rng(3)
    layer = _Affine(rng)
    correct_backward = layer.backward
    layer.backward = lambda dout: 2 * correct_backward(dout)  # params right, input wrong
    errors = check_layer(layer, rng.standard_normal((4, 3)))
    assert errors["input"] > 0.1 and max(errors["W"], errors["b"]) < 1e-8


def test_check_layer_clear_errors():
    rng = np.random.default_rng(4)
    with pytest.raises(ValueError, match="at least one input"):
        check_layer(_Affine(rng))
    with pytest.raises(TypeError, match="float64"):
        check_layer(_Affine(rng), np.ones((4, 3), dtype=np.float32))
    layer = _Bilinear(rng)
    full_backward = layer.backward
    layer.backward = lambda dout: full_backward(dout)[0]  # forgot the second input
    with pytest.raises(ValueError, match="1 input gradient\\(s\\) for 2 input"):
        check_layer(layer, np.ones((4, 3)), np.ones((4, 2)))


class _ForgetsAParameter(_Affine):
    """A layer whose forward never reads a parameter: both of its gradients are all zero."""

    def __init__(self, rng):
        super().__init__(rng)
        self.params["unused"] = rng.standard_normal(2)
        self.grads["unused"] = np.zeros(2)


def test_check_layer_rejects_a_parameter_the_forward_never_reads():
    rng = np.random.default_rng(5)
    with pytest.raises(ValueError,
                       match="parameter 'unused': the analytic and the numerical gradient are both all zero"):
        check_layer(_ForgetsAParameter(rng), rng.standard_normal((4, 3)))
    # gradient_check itself: a zero error from two zero gradients is not a pass
    W = rng.standard_normal(3)
    with pytest.raises(ValueError, match="proves nothing"):
        gradient_check(lambda: 1.0, {"W": W}, {"W": np.zeros(3)})


def test_check_layer_rejects_an_input_the_forward_never_reads():
    rng = np.random.default_rng(6)
    layer = _Bilinear(rng)
    W = layer.params.pop("W")  # a fixed matrix, so the only thing checked is the inputs
    layer.grads = {}
    layer.forward = lambda a, c: (a @ W) * 1.0  # ignores c
    layer.backward = lambda dout: (dout @ W.T, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="input1: the analytic and the numerical gradient are both all zero"):
        check_layer(layer, rng.standard_normal((4, 3)), rng.standard_normal((4, 2)))

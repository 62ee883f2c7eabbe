"""utils.scratch.residual: residual blocks and deep stacks, checked numerically and against torch."""
from pathlib import Path

import numpy as np
import pytest
import torch

from utils.nn.rnn import to_torch, torch_grads
from utils.scratch.gradcheck import check_layer
from utils.scratch.residual import (
    RECURRENT_CELLS,
    Residual,
    Stack,
    TanhDense,
    deep_rnn,
    depthwise_gradient_norms,
)
from utils.scratch.rnn import LSTM, RNN


def _x(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# ------------------------------------------------------------------ gradient checks
@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 4)])
def test_tanh_dense_and_its_residual_block_pass_the_gradient_check(shape):
    for layer in (TanhDense(4, rng=1), Residual(TanhDense(4, rng=1))):
        errors = check_layer(layer, _x(shape))
        assert set(errors) == {"W", "b", "input"}
        assert max(errors.values()) < 1e-7, (layer, errors)


@pytest.mark.parametrize("cell", sorted(RECURRENT_CELLS))
def test_residual_recurrent_layer_passes_the_gradient_check(cell):
    layer = Residual(RECURRENT_CELLS[cell](4, 4, rng=2))
    errors = check_layer(layer, _x((2, 5, 4), seed=3))
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("cell", sorted(RECURRENT_CELLS))
def test_deep_stack_passes_the_gradient_check(cell, residual):
    stack = deep_rnn(3, 4, cell, residual, rng=4)
    errors = check_layer(stack, _x((2, 4, 4), seed=5))
    assert set(errors) == {f"layer{n}.{k}" for n in (1, 2, 3) for k in stack.layers[0].params} | {"input"}
    assert max(errors.values()) < 1e-6, errors


def test_a_residual_backward_that_forgets_the_skip_path_fails_the_check():
    class NoSkipGradient(Residual):
        def backward(self, dy):
            return self.inner.backward(dy)  # the mistake: + dy is missing

    errors = check_layer(NoSkipGradient(TanhDense(4, rng=1)), _x((3, 4)))
    assert errors["input"] > 1e-2
    assert max(errors["W"], errors["b"]) < 1e-7  # the weights' gradients do not use the skip


def test_the_addition_hands_the_gradient_through_unchanged():
    block = Residual(TanhDense(3, rng=0))
    block.params["W"][...] = 0.0  # F(x) = tanh(b): constant, so dF/dx = 0
    x, dy = _x((4, 3)), _x((4, 3), seed=1)
    y = block.forward(x)
    assert np.allclose(y, x + np.tanh(block.params["b"]))
    assert np.array_equal(block.backward(dy), dy)  # exactly dy: the identity path alone


def test_residual_shares_the_inner_layers_arrays():
    inner = TanhDense(3, rng=0)
    block = Residual(inner)
    assert block.params is inner.params and block.grads is inner.grads
    stack = Stack([block, TanhDense(3, rng=1)])
    assert stack.params["layer1.W"] is inner.params["W"]
    assert stack.grads["layer1.W"] is inner.grads["W"]


def test_stack_keeps_the_gradient_reaching_each_layer():
    stack = deep_rnn(3, 4, "gru", residual=True, rng=0)
    x = _x((2, 5, 4))
    out = stack.forward(x)
    dout = _x(out.shape, seed=1)
    dx = stack.backward(dout)
    assert len(stack.output_grads) == len(stack.input_grads) == 3
    assert np.array_equal(stack.output_grads[-1], dout)  # the top layer gets the loss gradient
    for n in range(2):  # what leaves layer n+2 downwards is what reaches layer n+1 from above
        assert np.array_equal(stack.output_grads[n], stack.input_grads[n + 1])
    assert np.array_equal(stack.input_grads[0], dx)
    norms = stack.layer_gradient_norms()
    assert norms.shape == (3,) and np.all(norms > 0)


def test_deep_rnn_layout_first_layer_plain_then_residual():
    stack = deep_rnn(4, 5, "lstm", residual=True, rng=0)
    assert isinstance(stack.layers[0], LSTM)
    assert all(isinstance(layer, Residual) and isinstance(layer.inner, LSTM) for layer in stack.layers[1:])
    plain = deep_rnn(4, 5, "lstm", residual=False, rng=0)
    assert not any(isinstance(layer, Residual) for layer in plain.layers)
    for a, b in zip(stack.layers[1:], plain.layers[1:]):  # same weights from the same seed
        assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)


# ------------------------------------------------------------------ torch parity
@pytest.mark.parametrize("cell", sorted(RECURRENT_CELLS))
def test_residual_stack_matches_torch(cell):
    """y_l = y_{l-1} + RNN_l(y_{l-1}) from layer 2 on, in torch autograd, equals the NumPy stack."""
    stack = deep_rnn(3, 4, cell, residual=True, rng=6)
    x = _x((2, 5, 4), seed=7)
    out = stack.forward(x)
    dout = _x(out.shape, seed=8)
    dx = stack.backward(dout)

    modules = [to_torch(layer.inner if isinstance(layer, Residual) else layer) for layer in stack.layers]
    x_t = torch.tensor(x, requires_grad=True)
    h = x_t
    for number, module in enumerate(modules):
        step, _ = module(h)  # (batch, T, size)
        h = h + step if number > 0 else step
    (h * torch.tensor(dout)).sum().backward()

    assert np.abs(h.detach().numpy() - out).max() < 1e-12
    assert np.abs(x_t.grad.numpy() - dx).max() < 1e-12
    for layer, module in zip(stack.layers, modules):
        for name, grad in torch_grads(module).items():
            assert np.abs(grad - layer.grads[name]).max() < 1e-12, name


# ------------------------------------------------------------------ the depth-wise claim (seeds 0-2)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_depthwise_gradient_vanishes_without_skips_and_not_with_them(seed):
    """The chapter's claim at initialisation, 8 LSTM layers of 32 units (the notebook asserts seed 0)."""
    x = np.random.default_rng(seed).standard_normal((8, 10, 32))  # (batch, T, size)
    plain = depthwise_gradient_norms(deep_rnn(8, 32, "lstm", False, rng=seed), x, seed)
    residual = depthwise_gradient_norms(deep_rnn(8, 32, "lstm", True, rng=seed), x, seed)
    assert plain[0] / plain[-1] < 1e-2  # the bottom layer gets less than 1% of the top layer's
    assert np.all(np.diff(plain) > 0)  # shrinking at every layer on the way down
    assert residual.min() / residual[-1] > 0.5  # with skips, every layer gets at least half
    assert residual[0] > residual[-1]  # and the bottom layer more than the top one


# ------------------------------------------------------------------ bad input
def test_clear_errors():
    with pytest.raises(ValueError, match="input_size == hidden_size"):
        Residual(RNN(3, 4))
    with pytest.raises(TypeError, match="no 'params'"):
        Residual(object())
    with pytest.raises(ValueError, match="at least one layer"):
        Stack([])
    with pytest.raises(RuntimeError, match="before forward"):
        Stack([TanhDense(2)]).backward(np.ones((1, 2)))
    with pytest.raises(RuntimeError, match="before forward"):
        Residual(TanhDense(2)).backward(np.ones((1, 2)))
    with pytest.raises(ValueError, match="cell must be one of"):
        deep_rnn(2, 4, "transformer")
    with pytest.raises(ValueError, match="depth must be a positive int"):
        deep_rnn(0, 4)
    with pytest.raises(TypeError, match="residual must be True or False"):
        deep_rnn(2, 4, residual="yes")
    with pytest.raises(ValueError, match="NaN"):
        Residual(TanhDense(2)).forward(np.array([[np.nan, 0.0]]))
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        TanhDense(3).forward(np.ones((2, 4)))
    with pytest.raises(TypeError, match="torch tensor"):
        TanhDense(2).forward(torch.ones(1, 2))
    block = Residual(TanhDense(2))
    block.forward(np.ones((3, 2)))
    with pytest.raises(ValueError, match="output's shape"):
        block.backward(np.ones((2, 2)))
    with pytest.raises(TypeError, match="must be a Stack"):
        depthwise_gradient_norms(TanhDense(2), np.ones((1, 2)))


# ------------------------------------------------------------------ the training sweep on seeds 1 and 2
CHAPTER = Path(__file__).resolve().parents[1] / "chapters" / "07_deep_seq2seq_skip_connections.py"


def _chapter_cell(defining: str) -> dict:
    """Run the chapter's code cell that defines ``defining`` (the notebook's exact code) and return its names."""
    import utils

    cells = CHAPTER.read_text(encoding="utf-8").split("\n# %%")
    # A cell marker may carry metadata after "# %%" (e.g. slideshow={...}): the code starts on the next line.
    cells = [c.partition("\n")[2] for c in cells if not c.lstrip().startswith("[markdown]")]
    (cell,) = [c for c in cells if f"def {defining}(" in c]
    namespace = {"np": np, "torch": torch, "utils": utils, "device": torch.device("cpu")}
    exec(compile(cell, str(CHAPTER), "exec"), namespace)  # noqa: S102  our own chapter's cell
    return namespace


@pytest.mark.parametrize("seed", [1, 2])
def test_deep_plain_stacks_train_worse_and_residual_ones_do_not(seed):
    """Section 5's claims (the notebook asserts seed 0) on seeds 1 and 2, with the chapter's own train_and_record."""
    train_and_record = _chapter_cell("train_and_record")["train_and_record"]
    keys = ((1, False), (2, False), (4, False), (8, False), (2, True), (4, True), (8, True))
    runs = {key: train_and_record(*key, seed=seed, progress=False) for key in keys}
    exact = {key: history.metric[-1] for key, (history, _, _) in runs.items()}
    loss = {key: history.loss[-1] for key, (history, _, _) in runs.items()}
    norms = {key: n for key, (_, n, _) in runs.items()}
    assert exact[(8, False)] <= 0.05 and exact[(4, False)] <= 0.05
    assert loss[(8, False)] > 2.0 and loss[(4, False)] > 2.0
    assert exact[(1, False)] >= 0.4
    assert 0.2 <= exact[(2, False)] < exact[(1, False)]
    init_plain_8 = norms[(8, False)][0]
    assert 2.5 < (init_plain_8[-1] / init_plain_8[0]) ** (1 / 7) < 8
    for layers in (2, 4, 8):  # every residual stack: as good as one layer or better
        assert exact[(layers, True)] >= exact[(1, False)] - 0.05 and loss[(layers, True)] < loss[(1, False)]
    assert norms[(8, False)][0][0] / norms[(8, False)][0][-1] < 1e-2
    assert np.all(norms[(8, False)][:, 0] / norms[(8, False)][:, -1] < 0.05)
    assert np.all(norms[(8, True)].min(axis=1) / norms[(8, True)][:, -1] > 0.5)
    assert norms[(8, True)][-1][0] > norms[(8, True)][-1][-1]

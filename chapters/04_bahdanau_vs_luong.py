# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: slideshow,tags,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] slideshow={"slide_type": "slide"}
# # 04 · Bahdanau vs Luong: how to score, and where attention sits
#
# Chapter 03 built one [attention](GLOSSARY.md#attention) model: a [dot-product](GLOSSARY.md#dot-product) score between the [decoder](GLOSSARY.md#decoder) state $s_t$
# and every [encoder](GLOSSARY.md#encoder) state $h_j$, placed between the decoder [RNN](GLOSSARY.md#rnn) and the output layer. The two
# papers that made attention standard in 2015 made different choices, and the names
# "[Bahdanau](GLOSSARY.md#bahdanau-attention) attention" and "[Luong](GLOSSARY.md#luong-attention) attention" are often used as if the difference were the
# score alone. It is two choices: **how to score** a query against a key, and **where the
# attention layer sits** in the decoder. The second one decides how fast the model trains.
#
# After this chapter you will be able to
# 1. write the [additive score](GLOSSARY.md#additive-attention) (Bahdanau) and the [multiplicative scores](GLOSSARY.md#multiplicative-attention) dot, general and concat
#    (Luong) forward and backward in NumPy, check them numerically and against PyTorch, and say
#    why Luong's *concat* is the additive score written with one matrix;
# 2. draw both decoders with their shapes, and explain why Luong's decoder without [input
#    feeding](GLOSSARY.md#input-feeding) trains in one batched pass while Bahdanau's must step, measured as RNN calls and
#    as time per training step;
# 3. measure why the [scaled dot product](GLOSSARY.md#scaled-dot-product-attention) divides by $\sqrt{d}$ (the variance of $q \cdot k$
#    grows with $d$ and the [softmax](GLOSSARY.md#softmax) saturates), and when that reasoning does not apply;
# 4. implement Luong's **local** attention (a window of $2D+1$ positions around $p_t$, local-m
#    and local-p) and tell it apart from [global attention](GLOSSARY.md#global-attention), which looks at every position with
#    any of the scores;
# 5. read a side-by-side table of seven variants (plus input feeding) trained with the same
#    data, sizes and budget: [exact match](GLOSSARY.md#exact-match), parameter count and training-step time.

# %% slideshow={"slide_type": "skip"}
import copy
import dataclasses
import time

import matplotlib.pyplot as plt
import numpy as np
import torch

import utils
from utils.checkers.scores import check_general_score, check_general_score_backward, check_local_p_weights
from utils.scratch import scores as scratch_scores

device = utils.setup(seed=0)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. Two choices: the score, and the placement
#
# Every attention layer computes, for each output step $t$, scores $e_{tj}$ between a
# **query** (a decoder state) and each **key** $h_j$ (an encoder state), weights
# $a_{tj} = \mathrm{softmax}_j(e_{tj})$ and a context $c_t = \sum_j a_{tj} h_j$ (chapter 03).
# The two papers differ in both places where a choice is possible:
#
# | | Bahdanau et al. (2015) | Luong et al. (2015) |
# |---|---|---|
# | score | additive $v^\top \tanh(W s_{t-1} + U h_j)$ | dot $s_t^\top h_j$, general $s_t^\top W h_j$, concat $v^\top\tanh(W[s_t; h_j])$ |
# | query | $s_{t-1}$, the state **before** this step | $s_t$, the state **after** this step |
# | context goes | **into** the RNN step: $s_t = \mathrm{RNN}([y_{t-1}; c_t], s_{t-1})$ | to the output side: $\tilde h_t = \tanh(W_c[c_t; s_t])$ |
# | output layer reads | $[s_t; c_t]$ (the paper adds a maxout layer over $s_{t-1}$, $y_{t-1}$, $c_t$) | the attentional state $\tilde h_t$ |
# | window | global (every $j$) | global, or **local** ($2D+1$ positions around $p_t$) |
#
# Here is one decoder step of each, with the shapes of its tensors ($B$ batch, $S$ source
# length, $T$ target length, $H$ decoder size, $D_\text{enc}$ encoder-state size, $E$
# embedding size, $V$ target vocabulary):
#
# ![One decoder step of Bahdanau's and of Luong's decoder, with shapes](figures/04_decoder_placement.svg)
#
# In this chapter's code the query is `query` (shape `(batch, tgt_len, Dq)`), the keys are
# `keys` (`(batch, src_len, Dk)`; the encoder states $h_j$, also the values) and a score layer
# returns `scores` $e_{tj}$ of shape `(batch, tgt_len, src_len)`.
#
# ## 2. Two families of score
#
# **Additive** (Bahdanau): a one-hidden-layer network of query and key,
#
# $$e_{tj} = v^\top \tanh(W_q\, q_t + W_k\, k_j + b), \qquad W_q \in \mathbb{R}^{A\times D_q},\ W_k \in \mathbb{R}^{A\times D_k},\ b, v \in \mathbb{R}^{A}.$$
#
# **Multiplicative** (Luong): a bilinear form of query and key,
#
# $$\text{dot: } e_{tj} = q_t^\top k_j, \qquad \text{general: } e_{tj} = q_t^\top W k_j,\ W \in \mathbb{R}^{D_q \times D_k},
#   \qquad \text{scaled dot: } e_{tj} = \frac{q_t^\top k_j}{\sqrt{D_k}} .$$
#
# Luong's third score, **concat**, $e_{tj} = v^\top \tanh(W [q_t; k_j])$, is *additive* attention:
# split $W = [W_q\ \ W_k]$ by columns and $W[q; k] = W_q q + W_k k$. The names differ, the
# function is the same (we check it below), and `utils` builds both names with one class.
#
# The shapes tell the cost. Dot and general need one batched matrix product for all $(t, j)$
# pairs: `(B, T, D) @ (B, D, S)`, whose result is the `(B, T, S)` scores. Additive builds a
# `(B, T, S, A)` array first, one hidden vector of size $A$ per pair, takes its $\tanh$ and
# multiplies by $v$: an intermediate $A$ times the size of the scores, forward and backward.
#
# ## 3. From scratch in NumPy
#
# `utils/scratch/scores.py` has one small layer per score in the textbook style (`params`,
# `grads`, `forward`, `backward`): `DotScore`, `ScaledDotScore`, `GeneralScore`,
# `AdditiveScore` and `ConcatScore` (the concatenation built literally, a
# `(B, T, S, Dq + Dk)` array). Each maps `query` and `keys` to `scores` and back:
# `backward(dscores)` fills `grads` and returns `(dquery, dkeys)`.
#
# The backward passes follow from the forward ones. For the general score, write
# $m_j = W k_j$ (the key mapped into the query's space, `mapped`, shape `(B, S, Dq)`); then
# $e_{tj} = q_t \cdot m_j$ and, with $\delta_{tj} = \partial L / \partial e_{tj}$,
#
# $$\frac{\partial L}{\partial q_t} = \sum_j \delta_{tj}\, W k_j, \qquad
#   \frac{\partial L}{\partial k_j} = W^\top \sum_t \delta_{tj}\, q_t, \qquad
#   \frac{\partial L}{\partial W} = \sum_{b, t, j} \delta_{tj}\, q_t k_j^\top .$$
#
# For the additive score, with $u_{tj} = \tanh(W_q q_t + W_k k_j + b)$ and
# $g_{tj} = \delta_{tj}\, v \odot (1 - u_{tj}^2)$ (the gradient at the $\tanh$'s input):
# $\partial L/\partial v = \sum \delta_{tj} u_{tj}$, $\partial L / \partial q_t = W_q^\top \sum_j g_{tj}$,
# $\partial L / \partial k_j = W_k^\top \sum_t g_{tj}$, $\partial L / \partial W_q = \sum g_{tj} q_t^\top$,
# $\partial L / \partial W_k = \sum g_{tj} k_j^\top$, $\partial L / \partial b = \sum g_{tj}$.
# The sums over $j$ (for the query) and over $t$ (for the key) are the broadcast of the
# forward pass run backwards: every pair $(t, j)$ adds its share.
#
# `utils.scratch.check_layer` compares each backward pass with central differences, for every
# parameter and both inputs, in float64 (`input0` is the query, `input1` the keys):

# %% slideshow={"slide_type": "subslide"}
rng = np.random.default_rng(0)
batch, tgt_len, src_len, query_size, key_size = 2, 3, 5, 4, 6
query = rng.standard_normal((batch, tgt_len, query_size))  # (batch, tgt_len, Dq): decoder states
keys = rng.standard_normal((batch, src_len, key_size))  # (batch, src_len, Dk): encoder states
keys_square = rng.standard_normal((batch, src_len, query_size))  # (batch, src_len, Dq) for dot scores

score_layers = {
    "dot": (scratch_scores.DotScore(query_size), keys_square),
    "scaled-dot": (scratch_scores.ScaledDotScore(query_size), keys_square),
    "general": (scratch_scores.GeneralScore(query_size, key_size, rng=1), keys),
    "additive": (scratch_scores.AdditiveScore(query_size, key_size, attn_size=5, rng=2), keys),
    "concat": (scratch_scores.ConcatScore(query_size, key_size, attn_size=5, rng=3), keys),
}
score_errors = {}
for name, (layer, layer_keys) in score_layers.items():
    score_errors[name] = utils.scratch.check_layer(layer, query, layer_keys)
    print(f"{name:11s}", "  ".join(f"{k}: {v:.0e}" for k, v in score_errors[name].items()))
largest_score_error = max(max(errors.values()) for errors in score_errors.values())
print(f"largest relative error: {largest_score_error:.0e}")
assert largest_score_error < 1e-7

# %% [markdown] slideshow={"slide_type": "subslide"}
# All relative errors are below $10^{-7}$ (the cell asserts it), where a wrong backward pass
# scores $10^{-2}$ or more (chapter 01). Now the claim that concat *is* additive: copy the
# concat layer's $W$ into the additive layer as $W_q = W_{[:, :D_q]}$ and $W_k = W_{[:, D_q:]}$:

# %% slideshow={"slide_type": "-"}
concat = score_layers["concat"][0]
additive = scratch_scores.AdditiveScore(query_size, key_size, attn_size=5, rng=9)  # other random weights
additive.params["W_q"][...] = concat.params["W"][:, :query_size]  # (A, Dq)
additive.params["W_k"][...] = concat.params["W"][:, query_size:]  # (A, Dk)
additive.params["b"][...] = concat.params["b"]
additive.params["v"][...] = concat.params["v"]
concat_minus_additive = np.abs(concat.forward(query, keys) - additive.forward(query, keys)).max()
print(f"max |concat - additive| with W = [W_q W_k]: {concat_minus_additive:.0e}")
assert concat_minus_additive < 1e-12

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. In PyTorch: the same scores
#
# `utils.nn.make_score(name, query_size, key_size)` builds the torch score modules
# (`utils.nn.DotScore`, `utils.nn.ScaledDotScore`, `utils.nn.GeneralScore`, `utils.nn.AdditiveScore`,
# which "concat" maps to). Their `nn.Linear` weights have the layout of our matrices
# (`W_q` is `(A, Dq)`, as in $W_q q$), so we copy them one to one and compare scores and
# gradients (torch's autograd against our hand-written backward passes):

# %% slideshow={"slide_type": "subslide"}
def torch_twin(name, layer):
    """The torch score of ``name`` with the NumPy ``layer``'s weights (float64)."""
    twin = utils.nn.make_score(name, layer.query_size, layer.key_size, getattr(layer, "attn_size", None)).double()
    p = {k: torch.from_numpy(v) for k, v in layer.params.items()}
    with torch.no_grad():
        if name == "general":
            twin.W.weight.copy_(p["W"])  # (Dq, Dk)
        if name in ("additive", "concat"):
            W_q, W_k = (p["W_q"], p["W_k"]) if name == "additive" else (p["W"][:, :query_size], p["W"][:, query_size:])
            twin.W_q.weight.copy_(W_q)
            twin.W_k.weight.copy_(W_k)
            twin.W_k.bias.copy_(p["b"])  # torch keeps the one bias b in W_k
            twin.v.weight.copy_(p["v"][None, :])  # (1, A)
    return twin


dscores = rng.standard_normal((batch, tgt_len, src_len))  # an upstream gradient
parity = {}
for name, (layer, layer_keys) in score_layers.items():
    scores_np = layer.forward(query, layer_keys)  # (batch, tgt_len, src_len)
    dquery_np, dkeys_np = layer.backward(dscores)
    query_t = torch.tensor(query, requires_grad=True)
    keys_t = torch.tensor(layer_keys, requires_grad=True)
    scores_t = torch_twin(name, layer)(query_t, keys_t)  # (batch, tgt_len, src_len)
    (scores_t * torch.from_numpy(dscores)).sum().backward()
    parity[name] = max(np.abs(scores_np - scores_t.detach().numpy()).max(),
                       np.abs(dquery_np - query_t.grad.numpy()).max(), np.abs(dkeys_np - keys_t.grad.numpy()).max())
print("max |NumPy - torch| over scores, dquery, dkeys:", {k: f"{v:.0e}" for k, v in parity.items()})
assert max(parity.values()) < 1e-12

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. Where attention sits, and what it costs
#
# The picture in Section 1 has the argument. In **Bahdanau's** decoder the query of step $t$
# is $s_{t-1}$, and the context $c_t$ is part of the RNN's input at step $t$:
#
# $$c_t = \sum_j \mathrm{softmax}_j\big(v^\top\tanh(W s_{t-1} + U h_j)\big)\, h_j, \qquad
#   s_t = \mathrm{RNN}([y_{t-1}; c_t],\, s_{t-1}), \qquad \mathrm{logits}_t = W_o [s_t; c_t] + b .$$
#
# To compute $s_t$ you need $c_t$, which needs $s_{t-1}$: the steps run one after another,
# **even under [teacher forcing](GLOSSARY.md#teacher-forcing)**, when every input $y_{t-1}$ is known in advance.
#
# In **Luong's** decoder the RNN comes first and does not read the context:
#
# $$s_t = \mathrm{RNN}(y_{t-1}, s_{t-1}), \qquad c_t = \sum_j \mathrm{softmax}_j\big(\mathrm{score}(s_t, h_j)\big)\, h_j, \qquad
#   \tilde h_t = \tanh(W_c [c_t; s_t]), \qquad \mathrm{logits}_t = W_s \tilde h_t + b .$$
#
# Under teacher forcing all $y_{t-1}$ are known, so one call of the RNN (`nn.LSTM` over the
# whole target) gives every $s_t$, and attention for all steps is one batched product.
# **Input feeding** (Luong's Section 3.3) gives this up on purpose: it feeds $\tilde h_{t-1}$
# into the next step's input, $s_t = \mathrm{RNN}([y_{t-1}; \tilde h_{t-1}], s_{t-1})$, so that
# the decoder knows where it looked before; then the steps are sequential again.
#
# `utils` has both decoders (`attention="bahdanau"`, `"luong-general"`, ...; input feeding via
# `utils.AttentionConfig(..., input_feeding=True)`). Let us count how often each calls its
# decoder RNN for one teacher-forced batch of dates, with a forward hook on the RNN layer
# (`model.decoder_layers`):

# %% slideshow={"slide_type": "subslide"}
# The variants and settings of this chapter's comparisons (tests/test_scores.py reuses this cell).
VARIANTS = {
    "bahdanau": "bahdanau",
    "luong-dot": "luong-dot",
    "luong-general": "luong-general",
    "luong-concat": "luong-concat",
    "scaled-dot": "scaled-dot",
    "local-m": "local-m",
    "local-p": "local-p",
    "luong-general + feeding": dataclasses.replace(utils.ATTENTION_PRESETS["luong-general"], input_feeding=True),
}
SETTINGS = dict(hidden_size=32, embed_size=32, epochs=3, batch_size=64, lr=1e-2, decay_epochs=0)  # every variant

# %% slideshow={"slide_type": "subslide"}
date_pairs = utils.load_dates("train")
src_vocab = utils.Vocab.build([s for s, _ in date_pairs])
tgt_vocab = utils.Vocab.build([t for _, t in date_pairs])
untrained = {name: utils.Seq2Seq(src_vocab, tgt_vocab, attention=attention, hidden_size=SETTINGS["hidden_size"],
                             embed_size=SETTINGS["embed_size"]) for name, attention in VARIANTS.items()}
timing_batch = untrained["bahdanau"].make_batch(date_pairs[:64])  # one batch: 64 dates
print(f"target steps per teacher-forced batch: {timing_batch.tgt_in.shape[1]}")


def rnn_calls(model, batch):
    """How many times the decoder's (first) RNN layer runs for one teacher-forced loss."""
    calls = []
    hook = model.decoder_layers[0].register_forward_hook(lambda *args: calls.append(1))
    with torch.no_grad():
        model.loss(batch)
    hook.remove()
    return len(calls)


calls = {name: rnn_calls(model, timing_batch) for name, model in untrained.items()}
for name, n in calls.items():
    print(f"  {name:24s} decoder RNN calls: {n}")
steps = timing_batch.tgt_in.shape[1]
assert calls["bahdanau"] == calls["luong-general + feeding"] == steps
assert all(calls[name] == 1 for name in VARIANTS if name not in ("bahdanau", "luong-general + feeding"))

# %% [markdown] slideshow={"slide_type": "subslide"}
# One call for every Luong variant without input feeding (global or local, any score); one call
# per target step for Bahdanau and for input feeding. What does that cost in time? We time
# training steps (forward, loss, backward, Adam update) of the untrained models on the same batch, the
# variants in turn so that a burst of load on the machine hits them alike, and keep the
# median of a few steps. Timings are noisy, so the printed numbers change from run to run;
# the cell asserts only the direction.

# %% slideshow={"slide_type": "subslide"} tags=["nbval-ignore-output"]
def median_step_seconds(models, batch, steps=5, warmup=1):
    """Median wall-clock seconds of one training step of each model on ``batch``, timed round-robin."""
    models = {name: copy.deepcopy(model).train() for name, model in models.items()}  # leave the originals alone
    optimizers = {name: torch.optim.Adam(model.parameters(), lr=1e-3) for name, model in models.items()}
    times = {name: [] for name in models}
    for round_ in range(warmup + steps):
        for name, model in models.items():
            start = time.perf_counter()
            optimizers[name].zero_grad()
            model.loss(batch).backward()
            optimizers[name].step()
            if round_ >= warmup:
                times[name].append(time.perf_counter() - start)
    return {name: float(np.median(t)) for name, t in times.items()}


step_seconds = median_step_seconds(untrained, timing_batch)
for name, seconds in step_seconds.items():
    print(f"  {name:24s} {1000 * seconds:6.1f} ms per training step "
          f"({seconds / step_seconds['luong-general']:.1f}x luong-general)")
assert step_seconds["bahdanau"] > step_seconds["luong-general"]
assert step_seconds["luong-general + feeding"] > step_seconds["luong-general"]

# %% [markdown] slideshow={"slide_type": "subslide"}
# Bahdanau's decoder and input feeding are slower per training step than Luong's decoder
# without input feeding, at the same sizes (asserted). How much slower should depend on the
# number of target steps, since only the stepping decoders pay per step; dates have 11.
# `python -m tools.bench_placement` (part of `make bench`) measures the same on a long synthetic
# task (copy, 41 decoder steps, hidden 64) and requires Bahdanau to be at least 3 times slower
# than `luong-general`. It also times `luong-concat`, Luong's placement with Bahdanau's additive
# score; Exercise 4 asks you to predict both numbers before you run it.
#
# ## 6. The scaled dot product: why divide by $\sqrt{d}$
#
# Take a query $q$ and a key $k$ in $\mathbb{R}^d$ whose entries are independent with mean 0
# and variance 1. Then $q \cdot k = \sum_{i=1}^{d} q_i k_i$ is a sum of $d$ independent terms of
# variance 1, so
#
# $$\mathrm{Var}(q \cdot k) = d, \qquad \mathrm{Var}\!\left(\frac{q \cdot k}{\sqrt d}\right) = 1 .$$
#
# Scores with a standard deviation of $\sqrt{512} \approx 23$ make the softmax nearly one-hot:
# the largest score takes almost all the weight. That is bad for learning, because the softmax's
# Jacobian $\partial a_j / \partial e_k = a_j(\delta_{jk} - a_k)$ vanishes when $a$ is one-hot:
# no gradient reaches the scores. Vaswani et al. (2017) divide by $\sqrt{d}$ for this reason.
# Let us measure all of it for $d = 4, 8, \dots, 512$: 4,000 random queries, each against 16
# random keys (entries drawn from $\mathcal{N}(0, 1)$):

# %% slideshow={"slide_type": "subslide"}
DIMS = [4, 8, 16, 32, 64, 128, 256, 512]
n_queries, n_keys = 4000, 16
variance_rng = np.random.default_rng(0)


def softmax_stats(scores):
    """Mean max weight, mean entropy (nats) and mean Frobenius norm of the softmax Jacobian."""
    a = utils.scratch.softmax(scores)  # (n_queries, n_keys)
    entropy = -(a * np.log(np.maximum(a, 1e-300))).sum(axis=1)
    # ||diag(a) - a a^T||_F^2 = sum_j a_j^2 - 2 sum_j a_j^3 + (sum_j a_j^2)^2
    square = (a**2).sum(axis=1)
    jacobian_norm = np.sqrt(np.maximum(square - 2 * (a**3).sum(axis=1) + square**2, 0.0))
    return a.max(axis=1).mean(), entropy.mean(), jacobian_norm.mean()


variance_rows = []
for d in DIMS:
    q = variance_rng.standard_normal((n_queries, 1, d))  # (n_queries, 1, d)
    k = variance_rng.standard_normal((n_queries, n_keys, d))  # (n_queries, n_keys, d)
    dot = (q * k).sum(axis=2)  # (n_queries, n_keys): q . k
    scaled = dot / np.sqrt(d)
    variance_rows.append((d, dot.var(), scaled.var(), *softmax_stats(dot), *softmax_stats(scaled)))
variance_rows = np.array(variance_rows)  # one row per d
print("    d   Var(q.k)  Var(q.k/sqrt d)   max weight (dot / scaled)   entropy (dot / scaled)   |Jacobian| (dot / scaled)")
for d, var_dot, var_scaled, max_dot, ent_dot, jac_dot, max_sc, ent_sc, jac_sc in variance_rows:
    print(f"  {d:3.0f}  {var_dot:8.1f}  {var_scaled:10.2f}        {max_dot:.2f} / {max_sc:.2f}"
          f"                 {ent_dot:.2f} / {ent_sc:.2f}               {jac_dot:.3f} / {jac_sc:.3f}")
var_dot, var_scaled = variance_rows[:, 1], variance_rows[:, 2]
assert np.all(np.abs(var_dot / variance_rows[:, 0] - 1) < 0.1)  # Var(q.k) = d, within 10%
assert np.all(np.abs(var_scaled - 1) < 0.1)  # scaled: 1 at every d
max_dot, ent_dot, jac_dot = variance_rows[:, 3], variance_rows[:, 4], variance_rows[:, 5]
max_sc, ent_sc, jac_sc = variance_rows[:, 6], variance_rows[:, 7], variance_rows[:, 8]
assert np.all(np.diff(max_dot) > 0) and max_dot[-1] > 0.9  # unscaled: towards one-hot as d grows
assert ent_dot[-1] < 0.2 * np.log(n_keys)  # ... entropy far below uniform's log 16
assert jac_dot[-1] < 0.25 * jac_dot[0]  # ... and the softmax gradient shrinks
assert np.ptp(max_sc) < 0.05 and np.ptp(jac_sc) < 0.05  # scaled: the same softmax at every d

# %% slideshow={"slide_type": "subslide"}
fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
axes[0].loglog(DIMS, var_dot, "o-", label="q . k")
axes[0].loglog(DIMS, var_scaled, "s-", label="q . k / sqrt(d)")
axes[0].loglog(DIMS, DIMS, "k:", label="d")
axes[0].set_ylabel("variance of the score")
axes[0].set_title("Does the score's variance grow with d?")
axes[1].semilogx(DIMS, max_dot, "o-", label="q . k")
axes[1].semilogx(DIMS, max_sc, "s-", label="q . k / sqrt(d)")
axes[1].set_ylabel("mean largest weight (16 keys)")
axes[1].set_title("Does the softmax saturate?")
axes[2].semilogx(DIMS, jac_dot, "o-", label="q . k")
axes[2].semilogx(DIMS, jac_sc, "s-", label="q . k / sqrt(d)")
axes[2].set_ylabel("mean |softmax Jacobian| (Frobenius)")
axes[2].set_title("Does a gradient reach the scores?")
for ax in axes:
    ax.set_xlabel("dimension d")
    ax.legend(fontsize=8)
fig.tight_layout();

# %% [markdown] slideshow={"slide_type": "subslide"}
# The variance of $q \cdot k$ is $d$ (within 10% at every $d$, asserted) and the scaled score's
# stays at 1. Unscaled, the softmax over 16 keys moves towards one-hot as $d$ grows (the mean
# largest weight rises at every step and passes 0.9 at $d = 512$; the entropy falls below a
# fifth of the uniform $\log 16$), and the size of its Jacobian, the factor every gradient to
# the scores passes through, falls to under a quarter of its value at $d = 4$. Scaled, all three
# stay put.
#
# The argument assumes entries of variance 1. An [LSTM](GLOSSARY.md#lstm)'s states are $\tanh$-squashed and mostly
# much smaller, so for the small decoders of this chapter the *unscaled* dot product is the
# one with small scores; Section 8 shows what dividing them by $\sqrt{32}$ does.
#
# ## 7. Local attention, and the "2D + 1" confusion
#
# Every score above is used by **global** attention: each output step scores *every* source
# position $j = 0, \dots, S-1$.
#
# > **A common confusion: "dot-product attention looks only at $2D+1$ vectors".** It does not.
# > The $2D+1$ belongs to Luong's **local** attention, a different mechanism that restricts
# > *any* score (dot, general, concat) to a window. Global attention with the dot score reads
# > all $S$ positions. The score says *how* a position is compared with the query; the window
# > says *which* positions are compared at all. The cell below measures both: global attention
# > gives every real position a nonzero weight, [local attention](GLOSSARY.md#local-attention) at most $2D+1$.
#
# Local attention picks an aligned position $p_t$ and looks only at the window $[p_t - D, p_t + D]$:
#
# * **local-m** (monotonic): $p_t = t$, output step $t$ looks around source position $t$ (or
#   around the last one, $S - 1$, once $t$ runs past the source);
# * **local-p** (predictive): $p_t = (S-1)\,\sigma\big(v_p^\top \tanh(W_p s_t)\big)$, a learned
#   position in $[0, S-1]$ (Luong et al. write $S \cdot \sigma(\cdot)$ with positions counted
#   from 1; counted from 0, as here, the last position is $S - 1$), and inside the window the
#   weights are multiplied by a Gaussian centred at $p_t$:
#
# $$a_{tj} = \mathrm{softmax}_{j \in \text{window}}(e_{tj}) \cdot \exp\!\Big(-\frac{(j - p_t)^2}{2\sigma^2}\Big), \qquad \sigma = \frac{D}{2},$$
#
# and $a_{tj} = 0$ outside the window. The Gaussian is not renormalised, so a row sums to less
# than 1. The window $|j - p_t| \le D$ holds $2D + 1$ positions when $p_t$ is a whole number
# (always for local-m), $2D$ or $2D+1$ for a real-valued $p_t$, and fewer at the ends of the source:
#
# ![Global, local-m and local-p attention: which positions one output step reads](figures/04_local_window.svg)
#
# The window's edges move in jumps, so they pass no gradient to $p_t$; the Gaussian does, and
# through it $W_p$ and $v_p$ learn where to look. `scratch_scores.ScoreAttention(score,
# window=...)` chains a score, the windowed softmax (`LocalPWindow`), the predicted position
# (`PredictedPosition`) and the [weighted sum](GLOSSARY.md#weighted-sum). The [gradient check](GLOSSARY.md#gradient-check) covers $W_p$ and $v_p$
# (`check_layer` refuses a parameter whose gradient is zero both ways, so a pass proves the
# gradient reaches them):

# %% slideshow={"slide_type": "subslide"}
local_query = 3 * rng.standard_normal((batch, 4, query_size))  # (batch, tgt_len=4, Dq): spread the p_t
local_keys = rng.standard_normal((batch, 12, query_size))  # (batch, src_len=12, Dq)
local_lengths = np.array([12, 9])  # the second source has 3 padding positions
global_attention = scratch_scores.ScoreAttention(scratch_scores.DotScore(query_size))  # window=None: global
global_attention.forward(local_query, local_keys, src_lengths=local_lengths)
global_weights = global_attention.attention_weights  # (batch, tgt_len, src_len)
print(f"global (dot): nonzero weights per row: {(global_weights[0] > 0).sum(axis=1)} of 12 positions")
assert np.all(global_weights[0] > 0) and np.all(global_weights[1, :, :9] > 0)  # every real position is read
assert np.all(global_weights[1, :, 9:] == 0.0)  # padding is not
local_errors = {}
for window in ("local-m", "local-p"):
    layer = scratch_scores.ScoreAttention(scratch_scores.GeneralScore(query_size, query_size, rng=4),
                                            window=window, D=2, rng=5)
    local_errors[window] = utils.scratch.check_layer(layer, local_query, local_keys, src_lengths=local_lengths)
    print(f"{window}:", "  ".join(f"{k}: {v:.0e}" for k, v in local_errors[window].items()))
    centres = layer.centres  # (batch, tgt_len): p_t
    distance = np.abs(np.arange(12)[None, None, :] - centres[:, :, None])  # (batch, tgt_len, src_len)
    weights = layer.attention_weights  # (batch, tgt_len, src_len)
    nonzero = (weights[0] > 0).sum(axis=1)  # (tgt_len,): positions read by each output step
    print(f"  p_t of the first source: {np.round(centres[0], 2)}; nonzero weights per row: {nonzero}")
    assert nonzero.tolist() == ([3, 4, 5, 5] if window == "local-m" else [4, 4, 4, 4])
    assert np.all(weights[distance > 2] == 0.0)  # outside the window: exactly zero
    assert np.all(weights[1, :, 9:] == 0.0)  # padding: exactly zero
assert {"W_p", "v_p"} <= set(local_errors["local-p"])
assert max(max(e.values()) for e in local_errors.values()) < 1e-7

# %% [markdown] slideshow={"slide_type": "subslide"}
# Global dot attention reads all 12 positions of the first source (and the 9 real ones of the
# second); local-m's rows have 3, 4, 5, 5 nonzero weights (the window $t \pm 2$ is cut at the
# start of the source); local-p's $p_t$ are real numbers predicted from each query, and each row
# reads the positions within 2 of its own $p_t$: 4 here, since no $p_t$ is a whole number (all
# asserted). Outside each window and at [padding](GLOSSARY.md#padding) the weights are exactly 0 (asserted).
#
# The same layer in torch is `utils.nn.Attention(score, utils.nn.LocalWindow(kind, D, query_size))`.
# With the same weights it gives the same weights, contexts and gradients, including the
# gradient of $W_p$:

# %% slideshow={"slide_type": "subslide"}
numpy_local = scratch_scores.ScoreAttention(scratch_scores.GeneralScore(query_size, query_size, rng=4),
                                              window="local-p", D=2, rng=5)
torch_local = utils.nn.Attention(torch_twin("general", numpy_local.score),
                                 utils.nn.LocalWindow("local-p", 2, query_size).double())
with torch.no_grad():
    torch_local.window.W_p.weight.copy_(torch.from_numpy(numpy_local.predictor.params["W_p"]))
    torch_local.window.v_p.weight.copy_(torch.from_numpy(numpy_local.predictor.params["v_p"])[None, :])
dcontext = rng.standard_normal((batch, 4, query_size))  # an upstream gradient
context_np = numpy_local.forward(local_query, local_keys, src_lengths=local_lengths)  # (batch, 4, Dq)
numpy_local.backward(dcontext)
query_t, keys_t = torch.tensor(local_query, requires_grad=True), torch.tensor(local_keys)
padding_t = torch.arange(12)[None, :] < torch.from_numpy(local_lengths)[:, None]  # (batch, src_len)
context_t, weights_t = torch_local(query_t, keys_t, mask=padding_t, src_lengths=torch.from_numpy(local_lengths),
                                   steps=torch.arange(4))
(context_t * torch.from_numpy(dcontext)).sum().backward()
local_parity = {
    "weights": np.abs(numpy_local.attention_weights - weights_t.detach().numpy()).max(),
    "contexts": np.abs(context_np - context_t.detach().numpy()).max(),
    "d W_p": np.abs(numpy_local.grads["W_p"] - torch_local.window.W_p.weight.grad.numpy()).max(),
}
print("max |NumPy - torch|:", {k: f"{v:.0e}" for k, v in local_parity.items()})
print(f"largest |d W_p| entry: {np.abs(numpy_local.grads['W_p']).max():.3f}")
assert max(local_parity.values()) < 1e-10 and np.abs(numpy_local.grads["W_p"]).max() > 1e-3

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 8. Side by side: seven variants and input feeding, one budget
#
# Now the comparison the chapter is named after. **One factor changes: the attention.**
# Everything else is held fixed for every variant: an LSTM encoder and decoder with hidden size
# 32 and embeddings of 32, Adam with a constant learning rate of 0.01, batches of 64, **3 epochs**,
# seed 0, the same data in the same order. That is a fixed, small budget: the numbers say which
# variant learns fastest, not how good each can get. (The rate is constant, `decay_epochs=0`,
# because `train_seq2seq`'s default decays it over the last 2 epochs, which with 3 epochs would
# leave only one at full rate; it is the same setting for every variant.) Two tasks:
#
# * **dates**: the first 4,000 training dates of chapter 03 (eleven locales), tested on 1,000
#   test dates (split by whether the source writes the year first, as Korean, Japanese, Chinese and
#   Hungarian do, or last) and on 1,000 dates of the `test_unseen` split (formats and locales never seen in
#   training);
# * **copy**: a synthetic task with longer outputs than the dates' 10 characters and a monotonic
#   [alignment](GLOSSARY.md#alignment): copy 8 to 16 letters a-z (3,000 pairs), tested on 300 fresh strings of 16 letters.
#
# The variants are the presets `"bahdanau"`, `"luong-dot"`, `"luong-general"`, `"luong-concat"`,
# `"scaled-dot"`, `"local-m"`, `"local-p"` (both local ones with the general score and $D = 2$),
# and `luong-general` with input feeding. The cell below is the whole experiment (the test
# `tests/test_scores.py` runs this same cell with seeds 1 and 2).
#
# **Predict before you run.** From Sections 5–7 and the papers, one would expect: the Luong
# variants at least as good as Bahdanau; `scaled-dot` about as good as `luong-dot` (Section 6
# says scaling only matters when $q \cdot k$ is large); input feeding a small gain (Luong et al.
# report one); local-m to fail on year-last dates, where the year must be read from the end of
# the source while the first characters are written; and local-p, which *learns* where to look,
# to recover there (Luong et al.'s best model was local-p). Which of these will hold after
# 3 epochs?

# %% slideshow={"slide_type": "subslide"}
# The side-by-side experiment (tests/test_scores.py runs this cell with seeds 1 and 2).
def year_last(example):
    """Does the source write the year after the month and the day (en_US, fr_FR, ...)?"""
    return example.spans["year"][0] == max(start for start, _ in example.spans.values())


def side_by_side(seed, progress=True):
    """Train every variant of VARIANTS on dates and on copy with SETTINGS; exact match and sizes per variant."""
    dates_train = utils.load_dates("train")[:4000]
    test = utils.load_date_examples("test")[:1000]
    groups = {"dates test": [(e.source, e.target) for e in test],
              "year first": [(e.source, e.target) for e in test if not year_last(e)],
              "year last": [(e.source, e.target) for e in test if year_last(e)],
              "unseen": utils.load_dates("test_unseen")[:1000]}
    copy_train = utils.make_task("copy", 3000, min_len=8, max_len=16, seed=seed)
    copy_test = utils.make_task("copy", 300, min_len=16, max_len=16, seed=1000 + seed)
    table, date_models = {}, {}
    for name, attention in VARIANTS.items():
        date_models[name] = utils.train_seq2seq(dates_train, attention, seed=seed, progress=progress, verbose=False,
                                                desc=f"{name} (dates)", **SETTINGS)
        copy_model = utils.train_seq2seq(copy_train, attention, seed=seed, progress=progress, verbose=False,
                                         desc=f"{name} (copy)", **SETTINGS)
        table[name] = {group: utils.exact_match(date_models[name], pairs) for group, pairs in groups.items()}
        table[name]["copy 16"] = utils.exact_match(copy_model, copy_test)
        table[name]["parameters"] = date_models[name].num_parameters()
    return table, date_models



# %% slideshow={"slide_type": "subslide"}
table, date_models = side_by_side(seed=0)

# %% [markdown] slideshow={"slide_type": "-"}
# The table: exact match ([greedy decoding](GLOSSARY.md#greedy-decoding)) on each test set, the parameter count of the dates
# model, and the decoder RNN calls per teacher-forced batch from Section 5 (the training-step
# times are Section 5's):

# %% slideshow={"slide_type": "-"}
COLUMNS = ["dates test", "year first", "year last", "unseen", "copy 16"]
print(f"{'variant':24s}" + "".join(f"{c:>11s}" for c in COLUMNS) + f"{'parameters':>12s}{'RNN calls':>11s}")
for name, row in table.items():
    print(f"{name:24s}" + "".join(f"{row[c]:11.3f}" for c in COLUMNS) + f"{row['parameters']:12,d}{calls[name]:11d}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# What the table says, each sentence asserted by the cell below (the same cell passes on seeds 1
# and 2 in `tests/test_scores.py`):
#
# * **Local-m fails where the alignment is not monotonic.** Its window follows $p_t = t$, so
#   output step $t$ can read only source positions $t \pm 2$. Where the year comes first
#   (`2012년 4월 12일` → `2012-04-12`) the alignment stays near that diagonal; where it comes
#   last (`April 12, 2012`) the year the output starts with sits at the *end* of the source,
#   out of reach. Local-m's exact match on year-last dates is at least 0.3 below its own
#   year-first score, and at least 0.5 below global `luong-general` on the same dates.
# * **Local-p did not recover (expected: it would; measured: it did not, at this budget).** It
#   stays below 0.15 exact match on the dates test, at least 0.5 below `luong-general`. Why: it must learn $p_t$ ($W_p$, $v_p$) before its window holds the right positions,
#   and the only signal that moves $p_t$ is the Gaussian's gradient from positions already
#   inside the window; the heatmaps below show its first windows far from the year. Exercise 5
#   asks what more training does.
# * **Bahdanau's model learned more slowly than `luong-dot`, `luong-general` and `luong-concat`,
#   and not because of its score.**
#   Bahdanau is at least 0.04 below each of `luong-dot`, `luong-general` and `luong-concat` on
#   the dates test. `luong-concat` is Bahdanau's additive score in Luong's decoder, and it is
#   within 0.05 of `luong-general`: the score made little difference; the decoder did (query
#   $s_t$ instead of $s_{t-1}$, the context on the output side, the attentional layer).
#   Bahdanau against `luong-concat` is the one-factor comparison here: same additive score,
#   different decoder. (This is not a claim about every Luong variant: in the seed-0 table
#   `scaled-dot` and input feeding score below Bahdanau; both are discussed below.)
# * **Input feeding did not help at this budget (expected: a small gain; measured: none):**
#   `luong-general + feeding` is at most 0.02 above `luong-general` on the dates test, and each
#   of its training steps is slower (Section 5). We did not measure why, nor whether it pays off
#   with longer training.
# * **Copying 16 letters is hard for everyone at this budget, and there the score mattered.**
#   Bahdanau and `luong-concat`, the two additive scores, copy none of the 300 strings of 16
#   letters exactly; `luong-dot` and `luong-general` copy at least 0.05 of them. On the dates the
#   score made little difference; on copy, whose alignment is one sharp diagonal, the additive
#   score lagged in both decoders. (One seed, an observation: on seed 0 local-m, whose window
#   $p_t = t$ *is* copy's alignment, copied the most of all variants; the cell asserts it for
#   seed 0 only.)
# * **Scaling the dot product hurt these small models (expected: no harm; measured: at least
#   0.3 lost).** `scaled-dot` is at least 0.3 below `luong-dot` on the dates test (two cells down
#   looks at why).
# * **Held-out formats cost a little accuracy.** Averaged over the variants that reach 0.2 on the
#   test dates, exact match on `test_unseen` (2,000 dates in formats and locales never seen in
#   training; we use the first 1,000) is lower than on the test split, which has the training
#   formats (the cell prints both means).
# * **Parameters:** dot and scaled dot add no parameters to the model; general adds $W$
#   ($32 \times 32$); concat adds $W_q$, $W_k$, its bias and $v$; local-p adds $W_p$ and $v_p$
#   to local-m's; the counts differ by exactly these numbers. Bahdanau and input feeding are the
#   two largest models (their RNN input also holds the context or $\tilde h$). Accuracy does not
#   follow the count: `luong-dot`, with the fewest, beat Bahdanau.

# %% slideshow={"slide_type": "subslide"}
# The claims about the table (tests/test_scores.py checks them on seeds 1 and 2).
def check_claims(table):
    """Assert every claim the text makes about the side-by-side table."""
    exact = {name: row["dates test"] for name, row in table.items()}
    local_m, general = table["local-m"], table["luong-general"]
    assert local_m["year first"] - local_m["year last"] >= 0.3, "local-m: year last vs year first"
    assert general["year last"] - local_m["year last"] >= 0.5, "local-m vs global on year-last dates"
    assert exact["local-p"] < 0.15 and exact["luong-general"] - exact["local-p"] >= 0.5, "local-p"
    for name in ("luong-dot", "luong-general", "luong-concat"):
        assert exact[name] - exact["bahdanau"] >= 0.04, f"Bahdanau vs {name}"
    assert abs(exact["luong-concat"] - exact["luong-general"]) <= 0.05, "concat vs general"
    assert exact["luong-general + feeding"] - exact["luong-general"] <= 0.02, "input feeding"
    assert table["bahdanau"]["copy 16"] == table["luong-concat"]["copy 16"] == 0.0, "additive on copy"
    assert min(table["luong-dot"]["copy 16"], table["luong-general"]["copy 16"]) >= 0.05, "dot, general on copy"
    assert exact["luong-dot"] - exact["scaled-dot"] >= 0.3, "dot vs scaled dot"
    learners = [row for row in table.values() if row["dates test"] >= 0.2]
    assert np.mean([row["unseen"] for row in learners]) < np.mean([row["dates test"] for row in learners])
    n = {name: row["parameters"] for name, row in table.items()}
    H = SETTINGS["hidden_size"]
    assert n["luong-dot"] == n["scaled-dot"] and n["luong-general"] - n["luong-dot"] == H * H
    assert n["luong-concat"] - n["luong-dot"] == 2 * H * H + 2 * H  # W_q, W_k, bias, v
    assert n["local-m"] == n["luong-general"] and n["local-p"] - n["local-m"] == H * H + H  # W_p, v_p
    by_size = sorted(n, key=n.get)  # fewest parameters first
    assert by_size[0] in ("luong-dot", "scaled-dot") and by_size[-2:] == ["bahdanau", "luong-general + feeding"]
    assert exact["luong-dot"] > exact["bahdanau"]


# %% slideshow={"slide_type": "subslide"}
check_claims(table)
learners = [name for name, row in table.items() if row["dates test"] >= 0.2]
print(f"variants reaching 0.2 on the dates test: {', '.join(learners)}")
print(f"their mean exact match: dates test {np.mean([table[n]['dates test'] for n in learners]):.3f}, "
      f"unseen formats {np.mean([table[n]['unseen'] for n in learners]):.3f}")
# One seed, an observation (not checked on seeds 1-2): local-m copied best, its window p_t = t
# is exactly copy's alignment.
assert table["local-m"]["copy 16"] == max(row["copy 16"] for row in table.values())

# %% [markdown] slideshow={"slide_type": "-"}
# **Why did scaling hurt?** Section 6's argument assumed query and key entries of variance 1,
# where $q \cdot k$ has a standard deviation of $\sqrt{d}$ and dividing by it keeps the softmax out
# of saturation. An LSTM's states are squashed by $\tanh$ and gated, and a freshly initialised one
# holds small numbers. Here are the mean squared entries of the encoder states $h_j$ and decoder
# states $s_t$ of the trained `luong-dot` and `scaled-dot` models on 200 test dates, and how peaked
# each model's attention is (the mean, over output steps, of the largest weight):

# %% slideshow={"slide_type": "subslide"}
# Why scaling hurt (tests/test_scores.py runs this cell on seeds 1 and 2 too).
def state_stats(model, sources):
    """Mean squared entry of h_j and of s_t, and the mean largest attention weight per output step."""
    traces = model.trace(sources)
    enc_square = np.mean([np.mean(t.encoder_states**2) for t in traces])  # h_j: (S, D_enc) per source
    dec_square = np.mean([np.mean(t.decoder_states**2) for t in traces])  # s_t: (T, H) per source
    peak = np.mean([t.weights.max(axis=1).mean() for t in traces])  # weights: (T, S) per source
    return enc_square, dec_square, peak


def check_scaling(date_models, verbose=True):
    """State sizes and attention peaks of the luong-dot and scaled-dot models, with the claims asserted."""
    sources = [e.source for e in utils.load_date_examples("test")[:200]]
    dot_stats = state_stats(date_models["luong-dot"], sources)
    scaled_stats = state_stats(date_models["scaled-dot"], sources)
    for name, (enc_square, dec_square, peak) in (("luong-dot", dot_stats), ("scaled-dot", scaled_stats)):
        if verbose:
            print(f"{name:11s} mean h_j^2 = {enc_square:.3f}, mean s_t^2 = {dec_square:.3f}, "
                  f"mean largest weight = {peak:.3f}")
    assert max(dot_stats[:2]) < 0.5  # entries far from variance 1: Section 6's assumption does not hold
    assert scaled_stats[2] < dot_stats[2] - 0.1  # dividing by sqrt(32) left the attention flatter
    return dot_stats, scaled_stats


# %% slideshow={"slide_type": "subslide"}
dot_stats, scaled_stats = check_scaling(date_models)
# One seed, an observation: the scaled model did not grow its states to make up for the sqrt(32).
assert max(scaled_stats[0] / dot_stats[0], scaled_stats[1] / dot_stats[1]) < 1.5

# %% [markdown] slideshow={"slide_type": "subslide"}
# The state entries have mean squares far below 1 (asserted below 0.5), so the unscaled dot
# products are already moderate, and dividing them by $\sqrt{32} \approx 5.7$ leaves the
# `scaled-dot` model's attention flatter (its mean largest weight is at least 0.1 lower, asserted
# here and on seeds 1 and 2): a flat attention blends many positions into each context. To
# score as sharply as `luong-dot`, the scaled model needs $q \cdot k$ about $\sqrt{32} \approx 5.7$
# times larger, that is queries and keys each about $32^{1/4} \approx 2.4$ times longer (mean
# squares about 5.7 times larger); in 3 epochs its states' mean squares grew to less than 1.5
# times `luong-dot`'s (seed 0, an observation). The $\sqrt d$ rule is about *large* $d$ with *unit-variance* entries, the setting
# of the Transformer, where queries and keys are linear maps of layer-normalised vectors (chapter
# 05 meets scaled dot-product attention there).
#
# ### Heatmaps side by side
#
# Where does each variant look? One American date (year last) through all eight models, the
# source on x and the output on y (a title says whether the output is right):

# %% slideshow={"slide_type": "subslide"}
example = next(e for e in utils.load_date_examples("test") if e.locale == "en_US" and e.pattern == "long")
fig, axes = plt.subplots(2, 4, figsize=(16, 6.5))
for ax, (name, model) in zip(axes.ravel(), date_models.items()):
    tokens, weights = model.attention(example.source)  # (out_len, src_len)
    verdict = "right" if "".join(tokens) == example.target else "wrong"
    utils.plot_attention(weights, list(example.source), tokens, ax=ax, cbar=False, title=f"{name} ({verdict})")
    ax.tick_params(labelsize=7)
    ax.set_xlabel("source character", fontsize=8)
    ax.set_ylabel("output character", fontsize=8)
fig.suptitle(f"Where does each variant look for the year, month and day of {example.source!r}?")
fig.tight_layout();
year_span = slice(*example.spans["year"])
year_start, year_end = example.spans["year"]
print(f"{example.source!r} -> {example.target!r}; the year is source characters {year_start} to {year_end - 1} "
      f"({example.source[year_span]!r})")
year_mass = {name: float(model.attention(example.source)[1][:4, year_span].sum(axis=1).mean())
             for name, model in date_models.items()}
print("mean weight the first four outputs put on the year:", {k: round(v, 2) for k, v in year_mass.items()})
assert year_mass["local-m"] == 0.0  # the year is out of local-m's reach for the first outputs
assert year_mass["local-p"] < 0.05  # local-p could reach it, but its windows are elsewhere
assert min(year_mass[name] for name in ("bahdanau", "luong-dot", "luong-general")) >= 0.5  # this run, this date

# %% [markdown] slideshow={"slide_type": "subslide"}
# Local-m's first output steps cannot see the year (their windows cover the first characters,
# `Dec`...; the weight on the year's characters is exactly 0, asserted), so whatever year it writes
# comes from the decoder's initial state alone (the encoder's last state, which has read the year
# once, among everything else). In this run, Bahdanau, `luong-dot` and
# `luong-general` put at least half of their first four rows' weight on the year's characters
# (asserted for this date); `scaled-dot`'s rows are much flatter, and local-p's first windows sit
# in the middle of the source, where its $p_t$ points: it could move them to the year, but puts
# less than 0.05 of its first four rows' weight there (asserted for this date).
#
# The peaks need not sit on the very character being written: the first output `2` of the
# global models looks mostly at the `0` and `8` of `2008`, to the right of its `2`. Chapter 03
# measured why: the weights address *encoder states*, and a forward encoder's state to the right
# of a character has read it and still carries it. What matters for this comparison is whether
# the weight lies on the year at all.
#
# ## What we saw
#
# * Bahdanau's and Luong's attention differ in two choices. The **score**: additive (Bahdanau)
#   or multiplicative (dot, general); Luong's concat is the additive score with one matrix
#   (equal to within $10^{-12}$, asserted). Each score's NumPy backward pass passes a gradient check
#   (below $10^{-7}$) and equals the torch module in `utils`.
# * The **placement** decides the speed. Bahdanau's query is $s_{t-1}$ and its context enters
#   the RNN, so its decoder calls the RNN once per target step even under teacher forcing (11
#   calls for a batch of dates); Luong's decoder without input feeding calls it once, and its
#   training steps were faster (asserted direction; `make bench` measures the ratio on a long
#   task). Input feeding brings the step loop back.
# * Dividing the dot product by $\sqrt d$ keeps the score's variance at 1 when the entries have
#   variance 1: unscaled, the variance is $d$, the softmax saturates and its Jacobian shrinks.
#   For small LSTM models, whose states are far smaller, scaling made attention flatter and
#   learning slower.
# * At the same small budget, Bahdanau's model learned the dates more slowly than `luong-dot`,
#   `luong-general` and `luong-concat`, and Luong's decoder with Bahdanau's additive score
#   (`luong-concat`) did as well as with the general score: the decoder mattered more than the score.
# * Local attention reads at most $2D+1$ positions around $p_t$ and exactly nothing else; global
#   attention, dot or any other score, reads every position. Local-m failed on year-last dates,
#   where the alignment crosses over, and did far better where the year comes first.
# * Three expectations did not hold at this budget, on any of seeds 0–2: local-p did not recover
#   where local-m fails (it had not learned where to look), input feeding did not help, and
#   scaling the dot product hurt. Each is a finding about 3 epochs of small LSTMs, not about
#   the mechanisms at convergence; Exercise 5 shows local-p changing with more training.
#
# ### Closing note: the numbers on seeds 0, 1 and 2
#
# This notebook asserts seed 0; `tests/test_scores.py` runs the same cells (`side_by_side`,
# `check_claims`, `check_scaling`) on seeds 1 and 2, and they pass. Exact match per variant,
# seeds 0 / 1 / 2:
#
# | variant | dates test | year first | year last | unseen | copy 16 |
# |---|---|---|---|---|---|
# | `bahdanau` | 0.68 / 0.59 / 0.63 | 0.65 / 0.57 / 0.56 | 0.69 / 0.59 / 0.65 | 0.64 / 0.51 / 0.63 | 0.00 / 0.00 / 0.00 |
# | `luong-dot` | 0.79 / 0.67 / 0.71 | 0.81 / 0.70 / 0.71 | 0.79 / 0.66 / 0.71 | 0.76 / 0.64 / 0.70 | 0.08 / 0.12 / 0.17 |
# | `luong-general` | 0.77 / 0.71 / 0.69 | 0.77 / 0.64 / 0.64 | 0.77 / 0.74 / 0.70 | 0.70 / 0.67 / 0.65 | 0.13 / 0.13 / 0.23 |
# | `luong-concat` | 0.76 / 0.69 / 0.69 | 0.79 / 0.68 / 0.64 | 0.76 / 0.69 / 0.71 | 0.73 / 0.68 / 0.66 | 0.00 / 0.00 / 0.00 |
# | `scaled-dot` | 0.32 / 0.20 / 0.21 | 0.28 / 0.09 / 0.09 | 0.33 / 0.24 / 0.26 | 0.27 / 0.13 / 0.19 | 0.00 / 0.00 / 0.00 |
# | `local-m` | 0.19 / 0.19 / 0.19 | 0.51 / 0.45 / 0.50 | 0.07 / 0.09 / 0.07 | 0.17 / 0.12 / 0.15 | 0.33 / 0.05 / 0.30 |
# | `local-p` | 0.14 / 0.07 / 0.10 | 0.03 / 0.04 / 0.14 | 0.18 / 0.09 / 0.09 | 0.15 / 0.10 / 0.11 | 0.00 / 0.00 / 0.00 |
# | `luong-general + feeding` | 0.66 / 0.72 / 0.70 | 0.63 / 0.65 / 0.64 | 0.67 / 0.74 / 0.72 | 0.65 / 0.69 / 0.63 | 0.20 / 0.05 / 0.01 |
#
# Local-m's copy score is the one that moved most between seeds (0.33, 0.05, 0.30); input feeding
# was below `luong-general` on seed 0 and within 0.02 of it on seeds 1 and 2.
#
# Speed: Section 5's cell measured Bahdanau at about 3 times `luong-general`'s training-step time
# on a batch of dates (11 decoder steps; the printed value changes from run to run), and
# `python -m tools.bench_placement` (copy, 41 decoder steps, hidden 64) measured 5.0 times, above the
# goal of 3, with `bahdanau / luong-concat` at 1.0 (one run, on 2 cores shared with other jobs).
#
# Run time: `make notebooks` took between 72 s and 109 s wall on a 2-core machine shared with
# other jobs; the notebook's CPU time is 41 to 43 s (one thread), most of it the 16 trainings of
# Section 8 (Bahdanau's and input feeding's stepping decoders are about 3 times slower to train
# than the others).
#
# ## Exercises
#
# **Exercise 1: the general score.** Write `general_score(query, keys, W)`: $e_{tj} = q_t^\top W k_j$.
# Shapes: `query (batch, tgt_len, Dq)`, `keys (batch, src_len, Dk)`, `W (Dq, Dk)` →
# `scores (batch, tgt_len, src_len)`.

# %% slideshow={"slide_type": "subslide"}
def general_score(query, keys, W):
    ### BEGIN SOLUTION
    mapped = keys @ W.T  # (batch, src_len, Dq): W k_j for every key
    return query @ mapped.transpose(0, 2, 1)  # (batch, tgt_len, src_len)
    ### END SOLUTION


# %% slideshow={"slide_type": "-"}
check_general_score(general_score)

# %% [markdown] slideshow={"slide_type": "-"}
# **Exercise 2: its backward pass.** Given the upstream gradient `dscores (batch, tgt_len,
# src_len)`, return `(dquery, dkeys, dW)` with the shapes of `query`, `keys` and `W` (one `W`
# serves the whole batch).

# %% slideshow={"slide_type": "subslide"}
def general_score_backward(query, keys, W, dscores):
    ### BEGIN SOLUTION
    mapped = keys @ W.T  # (batch, src_len, Dq)
    dquery = dscores @ mapped  # (batch, tgt_len, Dq)
    dmapped = dscores.transpose(0, 2, 1) @ query  # (batch, src_len, Dq)
    dkeys = dmapped @ W  # (batch, src_len, Dk)
    dW = np.einsum("bsq,bsk->qk", dmapped, keys)  # (Dq, Dk): summed over the batch
    return dquery, dkeys, dW
    ### END SOLUTION


# %% slideshow={"slide_type": "-"}
check_general_score_backward(general_score_backward)

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Exercise 3: local-p's weights.** Write `local_p_weights(scores, centres, D, mask)`:
# `scores (batch, tgt_len, src_len)`, `centres (batch, tgt_len)` (the $p_t$, real numbers,
# 0-based), `D` an int, `mask` None or `(batch, src_len)` bool (True at real positions).
# Return weights of the scores' shape: exactly 0 outside $|j - p_t| \le D$ and at padding;
# inside, the softmax of the scores over the window's positions times
# $\exp(-(j - p_t)^2 / (2\sigma^2))$ with $\sigma = D/2$, not renormalised.

# %% slideshow={"slide_type": "subslide"}
def local_p_weights(scores, centres, D, mask=None):
    ### BEGIN SOLUTION
    j = np.arange(scores.shape[2])[None, None, :]  # (1, 1, src_len)
    distance = j - centres[:, :, None]  # (batch, tgt_len, src_len)
    allowed = np.abs(distance) <= D  # (batch, tgt_len, src_len): inside the window
    if mask is not None:
        allowed = allowed & mask[:, None, :]  # ... and not padding
    filled = np.where(allowed, scores, -np.inf)  # (batch, tgt_len, src_len)
    row_max = filled.max(axis=-1, keepdims=True)  # (batch, tgt_len, 1)
    row_max = np.where(np.isfinite(row_max), row_max, 0.0)  # an empty window: no NaN
    exp = np.exp(filled - row_max)  # (batch, tgt_len, src_len), exactly 0 outside the window
    total = exp.sum(axis=-1, keepdims=True)  # (batch, tgt_len, 1)
    softmax = np.divide(exp, total, out=np.zeros_like(exp), where=total > 0)
    sigma = D / 2
    return softmax * np.exp(-distance**2 / (2 * sigma**2))
    ### END SOLUTION


# %% slideshow={"slide_type": "subslide"}
check_local_p_weights(local_p_weights)

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Exercise 4 (predict, then run): where does the time go?** Section 5 timed 11 decoder steps.
# Predict how the ratio `bahdanau / luong-general` changes with 41 decoder steps, then run
# `python -m tools.bench_placement` (copy of 40 symbols, hidden 64; it also prints
# `luong-concat`). Also predict: is `luong-concat` (Luong's placement, Bahdanau's additive score)
# closer in time to `luong-general` or to `bahdanau`?
#
# <details><summary>Expected outcome (open after you have predicted)</summary>
#
# The ratio grows with the number of target steps, since only Bahdanau's decoder pays per step:
# about 3 times at 11 steps (Section 5) and 5.0 times at 41 in our run of the benchmark (under
# load on 2 shared cores; timings vary). And `luong-concat` took about as long as Bahdanau
# (ratio 1.0), five times `luong-general`: its $\tanh$ runs over a `(B, T, S, A)` array, the same
# work Bahdanau's decoder does step by step. The placement saves the step loop, not the
# additive score's cost.
# </details>
#
# **Exercise 5 (open): does local-p learn with more training?** Retrain `"local-p"` and
# `"local-m"` on the dates with `epochs=8` (everything else as `SETTINGS`, seed 0) and compare
# their exact match on year-first and year-last dates. Then look at `model.trace([source])[0].weights`
# for the date of the heatmaps: where do the first four output steps look?
#
# <details><summary>Expected outcome (open after you have predicted)</summary>
#
# In our run (seed 0, 8 epochs, everything else as `SETTINGS`): local-p improved a lot on
# year-last dates (0.47 exact match, above local-m's 0.37 at the same 8 epochs) but stayed weak
# on year-first dates (0.17, where local-m reached 0.73). For the heatmaps' date its first four
# output steps still put no weight on the year's characters (the peaks sit in the middle of the
# source): it writes the year from the decoder's initial state, and the Gaussian window alone has
# not taught $W_p$ to jump to the end of the source. (One seed: an observation.)
# </details>

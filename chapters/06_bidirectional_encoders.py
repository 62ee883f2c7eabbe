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
# # 06 · Bidirectional encoders: left and right context
#
# Every [encoder](GLOSSARY.md#encoder) so far read the source once, left to right. Its state $h_j$ at position $j$
# has read $x_1, \dots, x_j$ and nothing after. [Attention](GLOSSARY.md#attention) (chapter 03) lets the [decoder](GLOSSARY.md#decoder) pick
# any $h_j$, but what it picks still only knows the left context. This chapter adds a second
# [RNN](GLOSSARY.md#rnn) that reads the source right to left, and gives every position both.
#
# After this chapter you will be able to
# 1. write the [bidirectional](GLOSSARY.md#bidirectional) encoder, $h_j = [\overrightarrow{h}_j ; \overleftarrow{h}_j]$, and
#    build it in NumPy out of chapter 01's layers, *with [padding](GLOSSARY.md#padding)*: each sequence reversed within
#    its own length, with a backward pass proved right by a [gradient check](GLOSSARY.md#gradient-check);
# 2. load the same weights into `nn.LSTM(..., bidirectional=True)` and `nn.GRU` and get the
#    same numbers on a packed batch, knowing where torch keeps each direction;
# 3. choose how the two final states become the decoder's first state (the **bridge**), and say
#    what each choice costs;
# 4. measure what reading both ways buys: on chapter 03's length sweep with the source as
#    written, on where attention looks in dates, and on a task where the right context decides
#    the answer, spelling to sound (grapheme-to-phoneme) with CMUdict; and check predictions
#    against measurements: none of the three predictions carried over from chapter 03 holds
#    exactly as stated, and the chapter says what was measured instead and why.

# %% slideshow={"slide_type": "skip"}
import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import utils
from utils.checkers.bidirectional import check_bidirectional_backward, check_reverse_within_lengths
from utils.scratch.bidirectional import Bidirectional, length_mask, reverse_within_lengths

device = utils.setup(seed=0)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. The problem: the sound of a letter depends on the letters after it
#
# Grapheme-to-phoneme conversion turns a spelling into a pronunciation: `cape` → `K EY1 P`
# (ARPAbet phonemes, the vowel's digit is its stress). The CMU Pronouncing Dictionary ships with
# the course (`utils.load_cmudict`, 10,000 training words). English spelling is full of letters
# whose sound is decided by what comes *next*: a `c` is `K` before `a`, `o`, `u` but usually `S`
# before `e`, `i`, `y` (otherwise `CH`, as in *cello*); the `a` of `cape` is `EY` because of
# the silent `e` two letters later. Here is the first rule, counted over the training words
# that start with `c`:

# %% slideshow={"slide_type": "subslide"}
cmu_train = utils.load_cmudict("train")
pronounce = dict(cmu_train)
print(f"{len(cmu_train):,} training words, e.g.",
      ", ".join(f"{word} -> {pronounce[word]}" for word in ("cape", "cub", "phone")))
first_sound = {"c + a/o/u": [], "c + e/i/y": []}
for word, phonemes in cmu_train:
    if word.startswith("c") and len(word) > 1 and word[1] in "aoueiy":
        group = "c + a/o/u" if word[1] in "aou" else "c + e/i/y"
        first_sound[group].append(phonemes.split()[0])
share_k = {group: np.mean([p == "K" for p in sounds]) for group, sounds in first_sound.items()}
share_s = {group: np.mean([p == "S" for p in sounds]) for group, sounds in first_sound.items()}
for group, sounds in first_sound.items():
    print(f"{group}: {len(sounds):4d} words, first phoneme K: {share_k[group]:.2f}, S: {share_s[group]:.2f}")
assert share_k["c + a/o/u"] > 0.95  # c before a back vowel: K
assert share_s["c + e/i/y"] > 0.7 and share_k["c + e/i/y"] < 0.05  # before e/i/y: mostly S, never K
assert set(first_sound["c + e/i/y"]) <= {"S", "CH"}  # ... and otherwise CH

# %% [markdown] slideshow={"slide_type": "subslide"}
# So to say the first letter of a word, you need to see the second. A forward encoder's state
# at the `c`, $h_1$, has read only the `c`: it cannot know. The decoder can still look further
# right with attention, at $h_2$, which has read `ce` or `ca`, but then the attention looks at
# the *wrong letter* to get the right answer, and the further away the deciding letter (the
# silent `e` of `cape`), the further it must look. What we want is a state at position $j$ that
# has read the whole word.
#
# ## 2. The idea: two RNNs, one reading backwards
#
# A **bidirectional** encoder runs two RNNs over the source, with their own weights:
#
# $$\overrightarrow{h}_j = \mathrm{RNN}_{\rightarrow}(x_j, \overrightarrow{h}_{j-1}),\quad
#   \overrightarrow{h}_0 = 0, \qquad
#   \overleftarrow{h}_j = \mathrm{RNN}_{\leftarrow}(x_j, \overleftarrow{h}_{j+1}),\quad
#   \overleftarrow{h}_{T+1} = 0,$$
#
# and the state of position $j$ is the concatenation
#
# $$h_j = [\overrightarrow{h}_j ; \overleftarrow{h}_j] \in \mathbb{R}^{2H}.$$
#
# $\overrightarrow{h}_j$ summarises $x_1..x_j$, $\overleftarrow{h}_j$ summarises $x_j..x_T$:
# together, the whole source, *centred on* $x_j$ (Schuster & Paliwal, 1997; [Bahdanau](GLOSSARY.md#bahdanau-attention) et al.
# 2015 used it for the encoder of their attention model). Attention reads the states
# $h_1..h_T$ exactly as before; only their size changes, from $H$ to $2H$.
#
# ![A bidirectional encoder over the word cite, the bridge options, and a padded row reversed within its length](figures/06_bidirectional_encoder.svg)
#
# *The diagram: a forward RNN (blue) and a backward RNN (orange) over the embedded letters of
# `cite`, their states concatenated into $h_j$ of size $2H$; the bridge options that turn the
# two shaded final states into the decoder's first state; and how a padded row is reversed.*
#
# In code the symbols keep their names: $\overrightarrow{h}_j$ is `h_forward[:, j]`,
# $\overleftarrow{h}_j$ is `h_backward[:, j]`, and $h_j$ is `hs[:, j]`, shape `(batch, T, 2H)`.
#
# **Reading backwards is reading a reversed sequence forwards.** The backward RNN needs no new
# code: it is an ordinary layer fed $x_T, \dots, x_1$; its outputs are then reversed back so that
# position $j$ lines up with $x_j$. With a **padded batch** "reversed" needs care. A row `c i t e
# <pad> <pad>` must become `e t i c <pad> <pad>`: reversed **within its length**. Flipping the
# whole row gives `<pad> <pad> e t i c`, and the backward RNN would read two pads before the
# word; its states would then depend on how much padding the batch happened to have.
# `reverse_within_lengths(x, lengths)` does it right:

# %% slideshow={"slide_type": "subslide"}
tokens = np.array([[3, 9, 20, 5, 0, 0],  # "cite" + 2 pads (0 = <pad>)
                   [16, 8, 15, 14, 5, 19]])  # "phones", full length
lengths = np.array([4, 6])
print("batch:\n", tokens)
print("reversed within lengths:\n", reverse_within_lengths(tokens, lengths))
print("whole rows flipped (wrong):\n", tokens[:, ::-1])
assert np.array_equal(reverse_within_lengths(tokens, lengths)[0], [5, 20, 9, 3, 0, 0])
assert np.array_equal(reverse_within_lengths(reverse_within_lengths(tokens, lengths), lengths), tokens)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. From scratch in NumPy
#
# We build the layer from two of chapter 01's [LSTMs](GLOSSARY.md#lstm) (`utils.scratch.LSTM`): one reads `x` as it
# is, the other reads it reversed within the lengths, and its states are reversed back. The
# states at padding are set to zero (as torch's `pad_packed_sequence` does), so nothing
# downstream can read them.

# %% slideshow={"slide_type": "subslide"}
D, H = 5, 4  # input size, hidden size per direction
x = np.random.default_rng(0).standard_normal((2, 6, D))  # (batch, T, D): row 0 has 4 real steps
forward_layer = utils.scratch.LSTM(D, H, rng=1)
backward_layer = utils.scratch.LSTM(D, H, rng=2)
mask = length_mask(lengths, 6)[:, :, None]  # (batch, T, 1): True at real steps

h_forward = forward_layer.forward(x)  # (batch, T, H): pads come after the real steps, so they change nothing
h_backward = reverse_within_lengths(backward_layer.forward(reverse_within_lengths(x, lengths)), lengths)  # (batch, T, H)
hs = np.concatenate([h_forward, h_backward], axis=2) * mask  # (batch, T, 2H): h_j = [fwd h_j ; bwd h_j]
print("hs:", hs.shape)

# Row 0 read on its own, without padding, gives the same states: padding changed nothing.
alone = np.concatenate([forward_layer.forward(x[:1, :4]),
                        backward_layer.forward(x[:1, :4][:, ::-1])[:, ::-1]], axis=2)  # (1, 4, 2H)
assert np.allclose(hs[0, :4], alone[0], atol=1e-14) and np.all(hs[0, 4:] == 0)
# Flipping whole rows instead changes the padded row's backward states (not the full row's).
flipped = np.concatenate([h_forward, backward_layer.forward(x[:, ::-1])[:, ::-1]], axis=2)  # (batch, T, 2H)
print(f"largest change to the padded row's real states when whole rows are flipped: "
      f"{np.abs(flipped[0, :4] - hs[0, :4]).max():.2f}")
assert np.abs(flipped[0, :4] - hs[0, :4]).max() > 0.05 and np.allclose(flipped[1], hs[1])

# %% [markdown] slideshow={"slide_type": "subslide"}
# `utils.scratch.bidirectional.Bidirectional` wraps exactly these lines around two layers of
# any of chapter 01's cells, `Bidirectional.from_layers(forward_layer, backward_layer)` or
# `Bidirectional(utils.scratch.GRU, D, H)`, and adds the backward pass. Its parameters are the two
# layers' under the prefixes `forward.` and `backward.` (the same arrays). With
# `return_sequences=False` it returns each direction's **final** state: the forward one at the
# last *real* step, the backward one at step 0 (it read the row from its end back to the start).

# %% slideshow={"slide_type": "-"}
bidirectional = Bidirectional.from_layers(forward_layer, backward_layer)
assert np.array_equal(bidirectional.forward(x, lengths), hs)
final = bidirectional.forward(x, lengths, return_sequences=False)  # (batch, 2H)
assert np.array_equal(final[0], np.concatenate([hs[0, 3, :H], hs[0, 0, H:]]))  # row 0: last real step is 3
print(bidirectional, "| final states:", final.shape,
      "| parameters:", sum(p.size for p in bidirectional.params.values()), "numbers in", len(bidirectional.params), "arrays")

# %% [markdown] slideshow={"slide_type": "subslide"}
# **The backward pass.** The layer is a composition, so its gradient follows the composition
# back. Write $\delta h_j = \partial L / \partial h_j$ (`dh`, `(batch, T, 2H)`):
#
# 1. the outputs at padding were multiplied by 0, so their gradient is dropped: `dh * mask`;
# 2. **split**: the first $H$ features are $\overrightarrow{h}_j$'s, so
#    $\delta\overrightarrow{h} = $ `dh[..., :H]` goes to the forward layer's [BPTT](GLOSSARY.md#bptt), and
#    $\delta\overleftarrow{h} = $ `dh[..., H:]` to the backward layer's;
# 3. the backward layer produced its states in reversed order, so its gradient must be
#    **reversed within the lengths** before its BPTT, and the input gradient it returns
#    reversed back;
# 4. $x_j$ feeds both directions: $\partial L/\partial x_j$ is the **sum** of the two.
#
# Exercise 6.2 asks you to write it. Here is the gradient check of the layer in `utils`, for
# all four of chapter 01's cells, all states and final states only, on a batch with padding:

# %% slideshow={"slide_type": "subslide"}
x_check = np.random.default_rng(3).standard_normal((3, 5, D))  # (batch, T, D)
lengths_check = np.array([5, 3, 1])
rows = []
for cell in (utils.scratch.RNN, utils.scratch.LSTM, utils.scratch.PeepholeLSTM, utils.scratch.GRU):
    for return_sequences in (True, False):
        errors = utils.scratch.check_layer(Bidirectional(cell, D, H, rng=4), x_check, lengths=lengths_check,
                                   return_sequences=return_sequences)
        worst = max(errors, key=errors.get)
        rows.append((cell.__name__, return_sequences, errors[worst], worst))
print(f"{'cell':13s} {'returns':8s} {'max rel. error':>14s}  (worst of)")
for name, return_sequences, err, worst in rows:
    print(f"{name:13s} {'all' if return_sequences else 'final':8s} {err:14.0e}  ({worst})")
largest_error = max(err for _, _, err, _ in rows)
assert largest_error < 1e-7  # the pass mark is 1e-6


# %% [markdown] slideshow={"slide_type": "subslide"}
# A check that never fails proves nothing, so here is one that must. The layer below makes
# section 2's padding mistake in its forward pass only: the backward RNN reads each padded row
# flipped whole, pads first. Its backward pass is still the one for a reversal within the
# lengths, so the two no longer match on the padded rows.

# %% slideshow={"slide_type": "subslide"}
class FlipsWholeRows(Bidirectional):
    """A deliberately broken layer: forward flips padded rows whole, backward assumes within lengths."""

    def forward(self, x, lengths=None, return_sequences=True):
        hs = super().forward(x, lengths)  # (batch, T, 2H); keeps lengths and mask in the cache
        h_backward = self.backward_layer.forward(x[:, ::-1])[:, ::-1]  # (batch, T, H): pads read first
        hs[:, :, H:] = h_backward * self.cache["mask"]
        return hs


broken = utils.scratch.check_layer(FlipsWholeRows(utils.scratch.GRU, D, H, rng=4), x_check, lengths=lengths_check)
print("forward direction:", f"{max(v for k, v in broken.items() if k.startswith('forward.')):.0e}",
      "| backward direction:", f"{min(v for k, v in broken.items() if k.startswith('backward.')):.0e}",
      "| input:", f"{broken['input']:.0e}")
assert max(v for k, v in broken.items() if k.startswith("forward.")) < 1e-6  # still right
assert min(v for k, v in broken.items() if k.startswith("backward.")) > 1e-2 and broken["input"] > 1e-2

# %% [markdown] slideshow={"slide_type": "subslide"}
# The forward direction still passes; every gradient of the backward direction, and the input
# gradient, fail by orders of magnitude, although the full-length row is the same either way.
#
# ## 4. In PyTorch: `nn.LSTM(..., bidirectional=True)`
#
# torch builds both directions into one module. What it holds, for one layer:
#
# * the forward direction's weights under the usual names (`weight_ih_l0`, ...), the backward
#   direction's under the same names plus `_reverse` (`weight_ih_l0_reverse`, ...), each in the
#   layout of chapter 01 (gate order i, f, g, o for the LSTM, r, z, n for the [GRU](GLOSSARY.md#gru));
# * `output` `(batch, T, 2H)`: at every step $[\overrightarrow{h}_j ; \overleftarrow{h}_j]$, forward
#   half first, exactly our `hs`;
# * `h_n` `(2, batch, H)`: `h_n[0]` the forward direction's final state, `h_n[1]` the backward
#   one's, which is $\overleftarrow{h}_1$, the state at step 0, not at step $T$.
#
# With a padded batch it must be given a **packed** sequence (`pack_padded_sequence` with the
# lengths): then each direction reads only the real steps, the backward one starting at each
# row's own last real step, which is our reversal within lengths. We copy the NumPy layer's
# weights in with chapter 01's `utils.nn.to_torch`, one direction at a time:

# %% slideshow={"slide_type": "subslide"}
def bidirectional_to_torch(layer: Bidirectional) -> nn.Module:
    """nn.LSTM / nn.GRU (bidirectional, batch first, float64) with a NumPy Bidirectional's weights."""
    torch_class = {"LSTM": nn.LSTM, "GRU": nn.GRU}[type(layer.forward_layer).__name__]
    module = torch_class(layer.input_size, layer.hidden_size, batch_first=True, bidirectional=True,
                         dtype=torch.float64)
    with torch.no_grad():
        for suffix, one_way in (("", layer.forward_layer), ("_reverse", layer.backward_layer)):
            for name, weight in utils.nn.to_torch(one_way).named_parameters():  # weight_ih_l0, ...
                getattr(module, name + suffix).copy_(weight)
    return module


x_pad = x.copy()
x_pad[~length_mask(lengths, 6)] = 0.0  # (batch, T, D): zeros at padding, as an embedding of <pad> might be
parity = {}
for cell in (utils.scratch.LSTM, utils.scratch.GRU):
    layer = Bidirectional(cell, D, H, rng=5)
    module = bidirectional_to_torch(layer)
    hs_np = layer.forward(x_pad, lengths)  # (batch, T, 2H)
    dh = np.random.default_rng(6).standard_normal(hs_np.shape) * length_mask(lengths, 6)[:, :, None]  # (batch, T, 2H)
    dx_np = layer.backward(dh)  # (batch, T, D)

    x_t = torch.tensor(x_pad, requires_grad=True)  # (batch, T, D)
    packed = pack_padded_sequence(x_t, torch.tensor(lengths), batch_first=True, enforce_sorted=False)
    output, state = module(packed)
    output, _ = pad_packed_sequence(output, batch_first=True, total_length=6)  # (batch, T, 2H)
    h_n = state[0] if cell is utils.scratch.LSTM else state  # (2, batch, H)
    (output * torch.tensor(dh)).sum().backward()
    parity[cell.__name__] = {
        "output": np.abs(output.detach().numpy() - hs_np).max(),
        "h_n": np.abs(torch.cat([h_n[0], h_n[1]], dim=1).detach().numpy()
                      - layer.final_states(hs_np, lengths)).max(),
        "d input": np.abs(x_t.grad.numpy() - dx_np).max(),
        "d weight_hh_l0_reverse": np.abs(module.weight_hh_l0_reverse.grad.numpy()
                                         - np.concatenate([layer.grads[f"backward.W_h{g}"] for g in
                                                           ("ifgo" if cell is utils.scratch.LSTM else "rzn")])).max(),
    }
    print(f"{cell.__name__:4s} max |NumPy - torch|:", {k: f"{v:.0e}" for k, v in parity[cell.__name__].items()})
assert max(max(p.values()) for p in parity.values()) < 1e-12

# %% [markdown] slideshow={"slide_type": "subslide"}
# (`tests/test_bidirectional.py` compares every parameter's gradient, for both directions.)
#
# What goes wrong without packing? `nn.LSTM` then reads the pads like any other input. The
# forward direction does not care (the pads come after the real steps), but the backward
# direction starts *at the last pad* and reaches the word only after reading the padding:

# %% slideshow={"slide_type": "-"}
unpacked, _ = module(torch.tensor(x_pad))  # the GRU of the last loop, padded batch, not packed
unpacked = unpacked.detach().numpy()  # (batch, T, 2H)
forward_change = np.abs(unpacked[0, :4, :H] - hs_np[0, :4, :H]).max()
backward_change = np.abs(unpacked[0, :4, H:] - hs_np[0, :4, H:]).max()
print(f"padded row, real steps, unpacked vs packed: forward half {forward_change:.0e}, "
      f"backward half {backward_change:.2f}")
assert forward_change < 1e-12 and backward_change > 0.01

# %% [markdown] slideshow={"slide_type": "subslide"}
# The encoder of the course's model, `utils.Seq2Seq` with `ModelConfig(bidirectional=True)`, is
# this layer: its RNN, read through the documented `model.encoder_layers`, is an
# `nn.GRU(bidirectional=True)` (for `cell="gru"`), and the NumPy layer built from its two
# directions gives the same states on a packed batch. (`tests/test_bidirectional.py` also checks
# the whole encoder, embedding included, and each bridge against the NumPy layer's final states.)

# %% slideshow={"slide_type": "subslide"}
def bidirectional_from_torch(module: nn.Module) -> Bidirectional:
    """A NumPy Bidirectional with the weights of a one-layer nn.LSTM / nn.GRU(bidirectional=True)."""
    directions = []
    for suffix in ("", "_reverse"):
        one_way = type(module)(module.input_size, module.hidden_size, batch_first=True)
        with torch.no_grad():
            for name, weight in one_way.named_parameters():
                weight.copy_(getattr(module, name + suffix))
        directions.append(utils.nn.from_torch(one_way))
    return Bidirectional.from_layers(*directions)


tiny_vocab = utils.Vocab.build(["cite", "phones"])
tiny_model = utils.Seq2Seq(tiny_vocab, tiny_vocab, utils.ModelConfig(cell="gru", embed_size=D, hidden_size=2 * H,
                                                                    bidirectional=True, encoder_hidden_size=H))
(encoder_rnn,) = tiny_model.encoder_layers  # one layer: nn.GRU(D, H, bidirectional=True)
print(encoder_rnn)
numpy_encoder = bidirectional_from_torch(encoder_rnn)
x32 = torch.tensor(x_pad, dtype=torch.float32)  # (batch, T, D): the model's dtype
with torch.no_grad():
    packed_out, _ = encoder_rnn(pack_padded_sequence(x32, torch.tensor(lengths), batch_first=True,
                                                     enforce_sorted=False))
    model_states, _ = pad_packed_sequence(packed_out, batch_first=True, total_length=6)  # (batch, T, 2H)
model_gap = np.abs(model_states.double().numpy() - numpy_encoder.forward(x32.double().numpy(), lengths)).max()
print(f"max |model encoder - NumPy layer|: {model_gap:.0e} (float32)")
assert model_gap < 1e-5

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. The bridge: where does the decoder start?
#
# Chapters 02 and 03 started the decoder from the encoder's final state, $s_0 = h_T$. A
# bidirectional encoder has two final states, $\overrightarrow{h}_T$ (read left to right, ends
# at the last letter) and $\overleftarrow{h}_1$ (read right to left, ends at the first), each
# of size $H_\text{enc}$ (the diagram's $H$, one direction's size), while the decoder's state
# has its own size $H_\text{dec}$. The **bridge** turns the two final states into the decoder's
# first state $s_0$.
# `utils.ModelConfig(bridge=...)` offers:
#
# | bridge | $s_0$ | parameters | needs |
# |---|---|---|---|
# | `"linear"` | $\tanh(W_b [\overrightarrow{h}_T ; \overleftarrow{h}_1] + b_b)$ | $(2H_\text{enc} + 1) H_\text{dec}$, twice for an LSTM ($h$ and $c$; the [cell state](GLOSSARY.md#cell-state) gets no $\tanh$) | nothing |
# | `"sum"` | $\overrightarrow{h}_T + \overleftarrow{h}_1$ | none | $H_\text{enc} = H_\text{dec}$ |
# | `"backward"` | $\overleftarrow{h}_1$ (Bahdanau et al. 2015 start from it, through a linear layer) | none | $H_\text{enc} = H_\text{dec}$ |
# | `"zeros"` | $0$: the decoder sees the source only through attention | none | nothing |
# | `"copy"` | $h_T$ as it is (chapters 02-03) | none | one direction, $H_\text{enc} = H_\text{dec}$ |
#
# `"linear"` is the default for a bidirectional encoder, the only choice that mixes both
# directions *and* allows any sizes. Its cost is easy to check on models built (untrained) with
# each bridge for the date vocabularies: an LSTM decoder with $H_\text{dec} = 64$, and 32 units
# per encoder direction (as in section 6, with dot attention) or 64 (where `"sum"` and
# `"backward"` apply; dot attention would then need $2 H_\text{enc} = H_\text{dec}$, so these
# models use [Luong](GLOSSARY.md#luong-attention)'s general score, chapter 04):

# %% slideshow={"slide_type": "subslide"}
date_train = utils.load_dates("train")
src_vocab = utils.Vocab.build([s for s, _ in date_train])
tgt_vocab = utils.Vocab.build([t for _, t in date_train])
base = utils.ModelConfig(cell="lstm", hidden_size=64, bidirectional=True, attention="dot",
                         encoder_hidden_size=32)
print(f"{'bridge':9s} {'H_enc':>5s} {'parameters':>10s}")
bridge_params = {}
for bridge, enc in (("linear", 32), ("zeros", 32), ("linear", 64), ("sum", 64), ("backward", 64), ("zeros", 64)):
    config = base.replace(bridge=bridge, encoder_hidden_size=enc,
                          attention="dot" if enc == 32 else "luong-general")  # dot needs 2 H_enc = H_dec
    bridge_params[bridge, enc] = utils.Seq2Seq(src_vocab, tgt_vocab, config).num_parameters()
    print(f"{bridge:9s} {enc:5d} {bridge_params[bridge, enc]:10,d}")
for enc in (32, 64):  # linear costs exactly (2 H_enc + 1) H_dec, for h and for c
    assert bridge_params["linear", enc] - bridge_params["zeros", enc] == 2 * (2 * enc + 1) * 64
assert bridge_params["sum", 64] == bridge_params["backward", 64] == bridge_params["zeros", 64]

# %% [markdown] slideshow={"slide_type": "subslide"}
# With attention the decoder can read every $h_j$ at every step. Does its first state still
# matter? Exercise 6.3 asks you to predict, then measure.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. What reading both ways buys, measured
#
# Every comparison below changes **one factor**, the encoder's direction, and holds the rest
# fixed: the data, the training budget (epochs, batch size, learning rate, seed), the decoder
# (an LSTM with $H_\text{dec} = 64$) and the attention (chapter 03's `"dot"`). To keep the
# states that attention reads the same size, and dot attention possible ($h_j$ and $s_t$ must
# have the same length), the bidirectional encoder has 32 units *per direction*: $h_j$ has 64
# numbers either way. Its linear bridge then costs about what the halved encoder saves, so the
# two models have (almost) the same number of parameters; each experiment prints both counts.

# %% slideshow={"slide_type": "subslide"}
FORWARD_ONLY = dict(hidden_size=64)  # one direction of 64: h_j has 64 numbers; bridge "copy"
BIDIRECTIONAL = dict(hidden_size=64, bidirectional=True, encoder_hidden_size=32)  # 2 x 32; bridge "linear"
ENCODERS = {"forward only": FORWARD_ONLY, "bidirectional": BIDIRECTIONAL}


def parameter_counts(models):
    """Print the models' parameter counts; return the largest relative difference between them."""
    counts = {name: model.num_parameters() for name, model in models.items()}
    print("parameters:", ", ".join(f"{name} {count:,}" for name, count in counts.items()))
    return (max(counts.values()) - min(counts.values())) / min(counts.values())

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 6.1 Chapter 03's sweep, with the source as written
#
# Chapter 03 ran a length sweep on the reverse task with dot attention, on the budget used
# here (4,000 pairs, 6 epochs). With the source read **backwards** (`reverse_source=True`) the
# curve stayed near the top: at least 0.75 [exact match](GLOSSARY.md#exact-match) at every length up to 20 (and at least
# 0.85 with twice the data, chapter 03's Exercise 3.5). With the source **as written** it
# sagged on long strings. The reason chapter 03 gave: dot attention compares contents, and output step
# $i$ needs source position $T + 1 - i$, a position counted *from the end*; in 20 letters from
# a-z some letter nearly always repeats, so content alone does not say which copy. A forward
# state $\overrightarrow{h}_j$ can only count from the start. A backward state
# $\overleftarrow{h}_j$ has read $x_j..x_T$: it can count from the end, exactly what the reverse
# task needs.
#
# **The prediction** (the one this chapter set out to check): with a bidirectional encoder the
# as-written curve stays flat, like the read-backwards one: at least 0.75 at every length. We rerun the as-written sweep (4,000
# pairs of 2 to 20 letters, an LSTM, 6 epochs, batches of 32, learning rate 0.005, seed 0, 100
# test strings per length) with both encoders; the forward-only model is chapter 03's dot model.

# %% slideshow={"slide_type": "subslide"}
CHAPTER_03_AS_WRITTEN = dict(n_train=4000, n_test=100, epochs=6, batch_size=32, lr=5e-3, cell="lstm", seed=0)
SWEEP_LENGTHS = list(range(2, 21, 2))
sweep_models, sweep_accuracy = {}, {}
for name, encoder in ENCODERS.items():
    sweep_models[name], sweep_accuracy[name] = utils.length_sweep(
        "reverse", SWEEP_LENGTHS, attention="dot", desc=f"reverse 2..20, {name}", **CHAPTER_03_AS_WRITTEN, **encoder)
parameter_gap = parameter_counts(sweep_models)
print("length:       ", " ".join(f"{n:5d}" for n in SWEEP_LENGTHS))
for name, accuracy in sweep_accuracy.items():
    print(f"{name:14s}", " ".join(f"{accuracy[n]:5.2f}" for n in SWEEP_LENGTHS))

# %% slideshow={"slide_type": "subslide"}
fig, ax = plt.subplots(figsize=(7.5, 4))
for (name, accuracy), style in zip(sweep_accuracy.items(), ("x--", "o-")):
    ax.plot(SWEEP_LENGTHS, [accuracy[n] for n in SWEEP_LENGTHS], style, label=f"{name} encoder")
ax.axhline(0.75, color="gray", lw=0.8, ls=":", label="chapter 03, read backwards: at least 0.75 everywhere")
ax.set_xticks(SWEEP_LENGTHS)
ax.set_ylim(0, 1.05)
ax.set_xlabel("source length (letters a-z), source as written")
ax.set_ylabel("exact match (greedy decoding)")
ax.set_title("Reverse task, dot attention: does reading both ways keep the curve up?")
ax.legend(loc="lower left")
fig.tight_layout();

forward_curve, bidirectional_curve = sweep_accuracy["forward only"], sweep_accuracy["bidirectional"]
long_lengths = [16, 18, 20]
gain_long = np.mean([bidirectional_curve[n] - forward_curve[n] for n in long_lengths])
print(f"at 20 letters: forward only {forward_curve[20]:.2f}, bidirectional {bidirectional_curve[20]:.2f}; "
      f"mean gain over 16-20 letters: {gain_long:.2f}")
assert parameter_gap < 0.01  # the same parameter count, to 1%
assert min(forward_curve[n] for n in SWEEP_LENGTHS if n <= 10) >= 0.85  # chapter 03: short strings are fine ...
assert forward_curve[20] <= 0.5  # ... and the forward-only curve sags, as chapter 03 found
assert min(bidirectional_curve[n] for n in SWEEP_LENGTHS if n <= 10) >= 0.8
assert bidirectional_curve[20] >= forward_curve[20] + 0.15  # reading both ways lifts the long end ...
assert gain_long >= 0.12
assert bidirectional_curve[20] <= 0.75  # ... but does not keep it at the read-backwards level

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Expected: flat. Measured: lifted, not flat.** Reading both ways lifts the long end of the
# curve by a wide margin (the cell asserts at least 0.15 at 20 letters, and 0.12 on average
# over 16 to 20) at the same parameter count and budget. But the prediction fails: at 20
# letters the bidirectional model gets at most three strings in four right (0.45 here), below
# the level the read-backwards curve keeps at every length on the same budget. This is a finding about *this* budget (4,000 pairs, 6 epochs); whether
# more data closes the gap is Exercise 6.4.
#
# Why is it not flat? The prediction assumed that finding the source position was the whole
# difficulty. Look at *how* the 20-letter outputs go wrong, on 200 fresh strings: an output
# can have the right length with a wrong letter in it (the failure chapter 03 explained by
# repeated letters: a wrong copy read), or the wrong length (letters skipped or added).

# %% slideshow={"slide_type": "subslide"}
long_pairs = utils.make_task("reverse", 200, min_len=20, max_len=20, seed=2024)  # fresh 20-letter strings
failure_kinds = {}
for name, model in sweep_models.items():
    predictions = model.translate_batch([source for source, _ in long_pairs])
    right = np.mean([p == t for p, (_, t) in zip(predictions, long_pairs)])
    wrong_length = np.mean([len(p) != len(t) for p, (_, t) in zip(predictions, long_pairs)])
    failure_kinds[name] = {"right": right, "right length, a wrong letter": 1 - right - wrong_length,
                           "wrong length": wrong_length}
    print(f"{name:14s}", ", ".join(f"{kind} {share:.2f}" for kind, share in failure_kinds[name].items()))
wrong_letter = {name: kinds["right length, a wrong letter"] for name, kinds in failure_kinds.items()}
wrong_length = {name: kinds["wrong length"] for name, kinds in failure_kinds.items()}
assert wrong_letter["forward only"] > wrong_length["forward only"]  # forward only: mostly a wrong letter
assert wrong_letter["bidirectional"] <= wrong_letter["forward only"] - 0.3  # those errors mostly go ...
assert wrong_length["bidirectional"] >= wrong_length["forward only"] + 0.1  # ... but more outputs lose their length
assert wrong_length["bidirectional"] > wrong_letter["bidirectional"]  # and that is now the main failure

# %% [markdown] slideshow={"slide_type": "subslide"}
# So the backward states did what the prediction said they would: the forward-only model's
# typical failure, a 20-letter output of the right length with a wrong letter, falls by at
# least 0.3 with reading both ways. What keeps the curve from being flat is a different
# failure, which the prediction did not consider: outputs of the wrong length (letters skipped
# or added), which the bidirectional model makes *more* often than the forward-only one. We have not measured why; one hypothesis for you to
# test in Exercise 6.4 is that attention jumps over a position or reads one twice, and the
# decoder, which writes one letter per attention step, loses its place.
#
# ### 6.2 Where attention looks in a date
#
# Chapter 03 compared its date model's attention with the true [alignment](GLOSSARY.md#alignment) the data set records.
# Here we look closer, at single characters. For a digit of the output, e.g. the `1` of the
# year `1957`, we know which source character it copies when the source writes that field in
# digits (`57` in `57. 2. 9.`, or `1957`): the **true character**. Its **peak offset** is where
# the attention row of that output has its maximum, minus the true character's position: 0 when
# attention peaks on the right character, +1 when it peaks on the one after it.
#
# **The prediction.** Chapter 03 saw the forward-only model's date alignments *shifted by one*
# character and explained it by $\overrightarrow{h}_j$ summarising $x_1..x_j$; the prediction
# for this chapter was that the forward-only peaks sit at offset +1 and a bidirectional model's
# centre on 0. Look at the argument again before measuring: the state *at* a digit has already
# read that digit, and every state *after* it still carries it (and more: whether the number has
# ended). So the argument forbids only peaks to the **left** of the digit (states that have not
# seen it); it allows 0, +1, or further right, and does not say which. A bidirectional state
# $h_j$ holds $x_j$ with its context on both sides, so its peak should sit on the character.
#
# Both encoders are trained on the first 5,000 training dates for 3 epochs (the API's other
# defaults), a short, fixed budget: the bidirectional model gets at least 5 points more of the
# test dates exactly right (asserted below; neither is trained to a plateau). To compare where
# they look, we take the test dates **both** translate correctly, so that the two are measured
# on the same dates.

# %% slideshow={"slide_type": "subslide"}
date_examples = utils.load_date_examples("test")
date_models = {name: utils.train_seq2seq(date_train[:5000], attention="dot", epochs=3, seed=0,
                                         desc=f"dates, {name}", **encoder)
               for name, encoder in ENCODERS.items()}
date_parameter_gap = parameter_counts(date_models)
decoded = {name: model.attention_batch([e.source for e in date_examples]) for name, model in date_models.items()}
date_accuracy = {name: np.mean(["".join(tokens) == e.target for e, (tokens, _) in zip(date_examples, runs)])
                 for name, runs in decoded.items()}
both_right = [i for i, e in enumerate(date_examples)
              if all("".join(decoded[name][i][0]) == e.target for name in ENCODERS)]
print("exact match on the test dates:", ", ".join(f"{name} {acc:.3f}" for name, acc in date_accuracy.items()))
print(f"test dates both models translate correctly: {len(both_right)} of {len(date_examples)}")
assert date_parameter_gap < 0.01
assert date_accuracy["bidirectional"] >= date_accuracy["forward only"] + 0.05  # at this budget, more dates right

# %% slideshow={"slide_type": "subslide"}
FIELD_ROWS = {"year": [0, 1, 2, 3], "month": [5, 6], "day": [8, 9]}  # output rows of YYYY-MM-DD


def true_characters(example):
    """(output row, source position) for each output digit that copies one source digit.

    Only fields the source writes in digits; a short field is right-aligned to its output
    (year '57' -> rows 2, 3 of '1957'; month '2' -> row 6 of '02').
    """
    pairs = []
    for field, rows in FIELD_ROWS.items():
        start, end = example.spans[field]
        written = example.source[start:end]
        if written.isascii() and written.isdigit():
            skipped = len(rows) - len(written)  # output digits with no source digit ('19' of '1957')
            pairs += [(row, start + k - skipped) for k, row in enumerate(rows) if k >= skipped]
    return pairs


def mass_on_true_span(weights, example):
    """Chapter 03's measure: mean weight the 8 digit outputs put on their field's source span.

    weights: (10, len(example.source)) attention weights, rows = output characters.
    """
    shares = []
    for field, rows in FIELD_ROWS.items():
        start, end = example.spans[field]
        shares.extend(weights[rows, start:end].sum(axis=1))  # one share per output digit
    return float(np.mean(shares))


offsets = {name: [] for name in ENCODERS}  # one peak offset per (date, output digit with a true character)
on_character, on_span = ({name: {} for name in ENCODERS} for _ in range(2))  # per locale, lists
for name in ENCODERS:
    for i in both_right:
        example, (_, weights) = date_examples[i], decoded[name][i]  # weights: (10, len(source))
        pairs = true_characters(example)
        offsets[name] += [int(weights[row].argmax()) - position for row, position in pairs]
        on_span[name].setdefault(example.locale, []).append(mass_on_true_span(weights, example))
        if pairs:
            on_character[name].setdefault(example.locale, []).append(
                np.mean([weights[row, position] for row, position in pairs]))
offsets = {name: np.array(values) for name, values in offsets.items()}
share = {name: {k: float(np.mean(values == k)) for k in range(-3, 7)} for name, values in offsets.items()}
for name, values in offsets.items():
    print(f"{name:14s} peak offset: 0 in {np.mean(values == 0):.3f}, > 0 in {np.mean(values > 0):.3f}, "
          f"< 0 in {np.mean(values < 0):.3f} of {len(values)} digits; mean {values.mean():+.2f}")

fig, ax = plt.subplots(figsize=(7, 3.5))
for k, name in enumerate(ENCODERS):
    ax.bar(np.arange(-3, 7) + (k - 0.5) * 0.4, [share[name][o] for o in range(-3, 7)], width=0.4, label=name)
ax.annotate("predicted for forward only: +1", xy=(1 - 0.2, share["forward only"][1]), xytext=(1.8, 0.45),
            arrowprops=dict(arrowstyle="->"))
ax.set_xticks(range(-3, 7))
drawn = min(np.mean((values >= -3) & (values <= 6)) for values in offsets.values())  # offsets outside are rare
ax.set_xlabel(f"attention peak minus the true character's position (characters; -3 to +6 hold {drawn:.0%} or more)")
ax.set_ylabel("share of output digits")
ax.set_title("Where does attention peak, relative to the digit being copied?")
ax.legend()
fig.tight_layout();

forward_offsets, bidirectional_offsets = offsets["forward only"], offsets["bidirectional"]
assert date_parameter_gap < 0.01
assert np.mean(forward_offsets == 0) >= 0.5  # forward only: mostly on the digit, not shifted by one:
assert np.mean(forward_offsets == 1) <= np.mean(forward_offsets == 0) / 2  # +1 at most half as often as 0
assert np.mean(forward_offsets < 0) <= 0.05  # rarely left of the digit ...
assert np.mean(forward_offsets > 0) >= 0.15 and forward_offsets.mean() >= 0.2  # ... often right of it
assert np.mean(bidirectional_offsets == 0) >= 0.85  # bidirectional: on the digit itself ...
assert np.mean(bidirectional_offsets == 0) >= np.mean(forward_offsets == 0) + 0.08  # ... far more often
assert abs(bidirectional_offsets.mean()) <= 0.15  # centred on 0

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Expected: a shift by one. Measured: mostly on the digit, with a tail to the right.** The
# forward-only model's peaks are *not* shifted by one: most sit on the digit itself (0.72 here),
# and at most half as many at +1 (0.12 here). What the summary $x_{\le j}$ does predict holds: at most one
# peak in twenty lands left of the digit, while more than one in seven lands to its **right**,
# some of them several characters away (the mean offset is above +0.2). The bidirectional model's
# peaks sit on the digit itself in at least 85% of cases and its mean offset is within 0.15 of
# zero: the right-hand tail is what reading both ways removes.
#
# Where do the far peaks (+2 or more) land? The cell below counts how many are on the source's
# **last character**, whose forward state has read the whole date, and so carries every digit.

# %% slideshow={"slide_type": "subslide"}
far_right = {name: [(i, row) for i in both_right for row, position in true_characters(date_examples[i])
                    if int(decoded[name][i][1][row].argmax()) - position >= 2] for name in ENCODERS}
on_last = {name: np.mean([int(decoded[name][i][1][row].argmax()) == len(date_examples[i].source) - 1
                          for i, row in peaks]) for name, peaks in far_right.items()}
for name in ENCODERS:
    print(f"{name:14s} peaks 2 or more right of the digit: {len(far_right[name]):4d}, "
          f"of which on the last source character: {on_last[name]:.2f}")
assert len(far_right["forward only"]) >= 2 * len(far_right["bidirectional"])
assert on_last["forward only"] >= 0.2  # a large part of the tail reads the state that has seen everything
# The bar at +3 is higher than the one at +2. Which peaks are they?
plus_three = [(i, row) for i in both_right for row, position in true_characters(date_examples[i])
              if int(decoded["forward only"][i][1][row].argmax()) - position == 3]
year_first_digit_on_last = np.mean([row == 0 and int(decoded["forward only"][i][1][row].argmax())
                                    == len(date_examples[i].source) - 1 for i, row in plus_three])
print(f"forward only, peaks at +3: {len(plus_three)}, of which a year's first digit read at the last "
      f"character: {year_first_digit_on_last:.2f}")
assert year_first_digit_on_last >= 0.4  # seed 0's figure: the bump at +3

# %% [markdown] slideshow={"slide_type": "subslide"}
# At least one in five of the forward-only model's far peaks (0.30 here) are on the last
# character, the one state that has read every digit; the bidirectional model has at most half
# as many far peaks. The bump at +3 in the figure is mostly one case (an observation about this
# seed's figure, asserted here only): the first digit of a four-digit year written at the end
# of the source (`2` of `16.06.2030`), read from the last character, three to its right. So the forward-only tail is a model reading a digit from a later state
# that still carries it, often the last one, not a constant shift.
#
# **Per locale.** The prediction was that the attention mass on the true date *fields* (chapter
# 03's measure: the weight an output digit puts on its whole field) rises with reading both ways
# in every locale. We measure it, and beside it the finer weight on the true *character*:

# %% slideshow={"slide_type": "subslide"}
locales = sorted(on_character["forward only"])
print(f"{'locale':7s} {'on the true character':>24s}   {'on the true field (ch. 03)':>27s}")
print(f"{'':7s} {'forward':>11s} {'bidirect.':>12s}   {'forward':>13s} {'bidirect.':>13s}")
for locale in locales:
    print(f"{locale:7s} {np.mean(on_character['forward only'][locale]):11.2f} "
          f"{np.mean(on_character['bidirectional'][locale]):12.2f}   "
          f"{np.mean(on_span['forward only'][locale]):13.2f} {np.mean(on_span['bidirectional'][locale]):13.2f}")
fig, ax = plt.subplots(figsize=(9, 4))
for k, name in enumerate(ENCODERS):
    ax.bar(np.arange(len(locales)) + (k - 0.5) * 0.4, [np.mean(on_character[name][loc]) for loc in locales],
           width=0.4, label=name)
ax.set_xticks(range(len(locales)), locales, rotation=30)
ax.set_ylim(0, 1.15)
ax.set_xlabel("locale of the written date")
ax.set_ylabel("weight on the true character")
ax.set_title("Does each output digit attend to the digit it copies, in every locale?")
ax.legend(loc="upper center", ncol=2)
fig.tight_layout();
for locale in locales:  # every locale, not just the mean
    assert np.mean(on_character["bidirectional"][locale]) >= np.mean(on_character["forward only"][locale]) + 0.05, locale
gain = {measure: np.mean([np.mean(by["bidirectional"][loc]) - np.mean(by["forward only"][loc]) for loc in locales])
        for measure, by in (("character", on_character), ("field", on_span))}
print(f"mean gain over the locales: on the true character {gain['character']:+.2f}, "
      f"on the true field {gain['field']:+.2f}")
assert gain["field"] > 0  # on chapter 03's measure the mean over the locales rises ...
# (on this seed also in every locale; not on seed 2, see the text: an observation, not a finding)
assert all(np.mean(on_span["bidirectional"][loc]) > np.mean(on_span["forward only"][loc]) for loc in locales)
assert gain["field"] < gain["character"]  # ... but by less than the weight on the character
# Why less: a forward-only peak right of its digit mostly stays inside the digit's own field.
right_peaks = [(example, row, int(decoded["forward only"][i][1][row].argmax()))
               for i in both_right for example in [date_examples[i]]
               for row, position in true_characters(example)
               if int(decoded["forward only"][i][1][row].argmax()) > position]
inside_own_field = np.mean([start <= peak < end for example, row, peak in right_peaks
                            for field, rows in FIELD_ROWS.items() if row in rows
                            for start, end in [example.spans[field]]])
print(f"forward only: peaks right of their digit that stay inside the digit's field: {inside_own_field:.2f}")
assert inside_own_field >= 0.6

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Expected: the field mass rises in every locale. Measured: per character, yes; per field,
# only on average.** The weight on the true *character* rises in every locale, by at least 0.05
# (asserted here, and on seeds 1 and 2 by the tests). The mass on the whole *field* rises on
# average over the locales, by less, and on this seed in every locale too; but that per-locale
# rise is not a finding: on seed 2 four of the eleven locales (en_GB, es_ES, fr_FR, it_IT) put
# slightly *less* mass on the field with the bidirectional encoder (by at most 0.015; the seed-2
# test asserts that some locale loses), so only the mean is a claim. The reason the field measure moves so little: most of the forward-only
# model's right-of-digit peaks (at least 60%, asserted) stay inside the digit's own field, where
# the field measure counts them as right. To see what reading both ways changes, measure
# per character.
#
# Heatmaps make the tail visible. Here is the German date, among those both models translate
# correctly and that write all eight digits, on which the forward-only model's peaks land right
# of their digit most often; its attention on the left, the bidirectional model's on the right
# (source characters on x, outputs on y):

# %% slideshow={"slide_type": "subslide"}
def peaks_right_of_digit(name, i):
    """How many of date i's output digits peak right of the digit they copy, in model ``name``."""
    weights = decoded[name][i][1]  # (10, len(source))
    return sum(int(weights[row].argmax()) > position for row, position in true_characters(date_examples[i]))


german = [i for i in both_right if date_examples[i].locale == "de_DE" and len(true_characters(date_examples[i])) == 8]
shown = max(german, key=lambda i: peaks_right_of_digit("forward only", i))  # the first of the most shifted
print(f"{date_examples[shown].source!r}: output digits peaking right of their digit: "
      + ", ".join(f"{name} {peaks_right_of_digit(name, shown)}" for name in ENCODERS))
fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
for ax, name in zip(axes, ENCODERS):
    tokens, weights = decoded[name][shown]  # (10, len(source))
    utils.plot_attention(weights, list(date_examples[shown].source), tokens, ax=ax,
                         title=f"{name} encoder")  # colour bar: the attention weight, 0 to 1
fig.suptitle(f"Which source character does each output read? {date_examples[shown].source!r}")
fig.tight_layout();

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 6.3 A task that needs the right context: spelling to sound
#
# Back to section 1. We train both encoders on 5,000 of the CMUdict training words (drawn at
# random, the same for both; letters in, ARPAbet phonemes out, one phoneme a token:
# `tgt_level="word"`) for 5 epochs, and score them on the 1,000 test words with two metrics:
#
# * **phoneme error rate** (PER): the edit distance between the predicted and the true phoneme
#   sequence (`utils.edit_distance`: insertions, deletions, substitutions), summed over the test
#   words and divided by the total number of true phonemes;
# * **word accuracy**: the share of words whose phonemes are all right.

# %% slideshow={"slide_type": "subslide"}
cmu_test = utils.load_cmudict("test")


def phoneme_scores(model, pairs):
    """(phoneme error rate, word accuracy, predictions) of greedy decoding on (word, phonemes) pairs."""
    predictions = model.translate_batch([word for word, _ in pairs])
    errors = sum(utils.edit_distance(p.split(), t.split()) for p, (_, t) in zip(predictions, pairs))
    total = sum(len(t.split()) for _, t in pairs)
    return errors / total, float(np.mean([p == t for p, (_, t) in zip(predictions, pairs)])), predictions


g2p_train = [cmu_train[i] for i in np.random.default_rng(0).permutation(len(cmu_train))[:5000]]
g2p_models = {name: utils.train_seq2seq(g2p_train, attention="dot", tgt_level="word", epochs=5, seed=0,
                                        desc=f"CMUdict, {name}", **encoder)
              for name, encoder in ENCODERS.items()}
g2p_parameter_gap = parameter_counts(g2p_models)
g2p = {name: phoneme_scores(model, cmu_test) for name, model in g2p_models.items()}
for name, (per, word_accuracy, _) in g2p.items():
    print(f"{name:14s} phoneme error rate {per:.3f}, word accuracy {word_accuracy:.3f}")
per_forward, accuracy_forward, predicted_forward = g2p["forward only"]
per_bidirectional, accuracy_bidirectional, predicted_bidirectional = g2p["bidirectional"]
assert g2p_parameter_gap < 0.01
assert per_bidirectional <= per_forward - 0.03  # fewer phoneme errors ...
assert accuracy_bidirectional >= accuracy_forward + 0.04  # ... and more words entirely right

# %% [markdown] slideshow={"slide_type": "subslide"}
# Where did the forward-only model go wrong? Here are test words where a letter's sound is set
# by a letter *after* it (a `c` before `e`, `i` or `y`; a vowel before a consonant and a final
# silent `e`; `ph`), that the bidirectional model gets right and the forward-only model gets
# wrong **at that sound**: its first wrong phoneme is `K` for a soft `c`, `P` for `ph`, or a
# short vowel for a long one (words whose first mistake is elsewhere are left out). When the
# forward-only decoder writes that sound, the state at the letter has not read what decides it;
# it can only guess, or look at a later state.

# %% slideshow={"slide_type": "subslide"}
def decided_by_the_right(word):
    """Does a letter's sound in ``word`` depend on a later letter (c+e/i/y, vowel+consonant+final e, ph)?"""
    soft_c = any(a == "c" and b in "eiy" for a, b in zip(word, word[1:]))
    magic_e = len(word) >= 4 and word.endswith("e") and word[-2] not in "aeiouy" and word[-3] in "aeiou"
    return soft_c or magic_e or "ph" in word


LONG_VOWELS, SHORT_VOWELS = {"EY", "AY", "OW", "UW", "IY"}, {"AE", "IH", "AA", "AH", "EH"}


def right_context_mistake(truth, guess):
    """Name the first wrong phoneme of ``guess`` if it is a sound a later letter decides, else None.

    Only for a guess with as many phonemes as the truth, so that the phonemes line up; a vowel
    counts only if it is the word's last vowel (the one a final silent e lengthens).
    """
    truth, guess = truth.split(), guess.split()
    if guess == truth or len(guess) != len(truth):
        return None
    k = next(k for k, (t, g) in enumerate(zip(truth, guess)) if t != g)  # the first wrong phoneme
    true_sound, guessed_sound = truth[k].rstrip("012"), guess[k].rstrip("012")  # stress digits dropped
    last_vowel = not any(p[-1].isdigit() for p in truth[k + 1:])  # vowels carry a stress digit
    if (true_sound, guessed_sound) == ("S", "K"):
        return "c before e/i/y said K"
    if (true_sound, guessed_sound) == ("F", "P"):
        return "ph said P"
    if true_sound in LONG_VOWELS and guessed_sound in SHORT_VOWELS and last_vowel:
        return "vowel before final e said short"
    return None


guessed = [(word, truth, forward, right_context_mistake(truth, forward))
           for (word, truth), forward, bidirectional in zip(cmu_test, predicted_forward, predicted_bidirectional)
           if decided_by_the_right(word) and bidirectional == truth and right_context_mistake(truth, forward)]
print(f"{'word':12s} {'true phonemes':22s} {'forward only':22s} its first mistake")
for word, truth, forward, mistake in guessed[:8]:
    print(f"{word:12s} {truth:22s} {forward:22s} {mistake}")
print(f"({len(guessed)} such test words; the bidirectional model writes each as the true phonemes)")
assert len(guessed) >= 3

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7. What we saw
#
# * A bidirectional layer is two one-way layers and two reversals: $h_j = [\overrightarrow{h}_j ;
#   \overleftarrow{h}_j]$, the backward layer fed each row **reversed within its length**. Built
#   from chapter 01's layers it passes the gradient check (relative errors below $10^{-7}$; a
#   layer whose forward and backward passes disagree about the reversal fails by $10^{-2}$ or
#   more) and equals
#   `nn.LSTM`/`nn.GRU(bidirectional=True)` on a packed batch to $10^{-12}$. Without packing,
#   torch's backward direction reads the padding first.
# * The bridge turns the two final states into the decoder's first state; `"linear"` mixes both
#   directions for $(2H_\text{enc} + 1) H_\text{dec}$ parameters per kind of state, `"sum"`,
#   `"backward"` and `"zeros"` cost nothing but constrain the sizes or drop the hand-off.
# * At the same parameter count (within 1%), data and budget, reading both ways
#   - lifted the long end of chapter 03's as-written reverse sweep with 4,000 pairs (by at
#     least 0.15 at 20 letters) but, contrary to the prediction, did **not** make it flat: it
#     removed most 20-letter outputs with a wrong letter (by at least 0.3), while outputs of
#     the wrong length became more frequent and are now its main failure;
#   - moved the attention peaks onto the digit being copied: at least 85% of peaks exactly on
#     it. Contrary to the prediction, the forward-only model's peaks were **not** shifted by
#     one but mostly on the digit with a tail to the right (a mean offset above +0.2, at most
#     one in twenty to the left; a fifth or more of the far peaks on the last character, whose
#     state has read every digit);
#   - put more weight on the true character in every locale (by at least 0.05); on chapter
#     03's field measure the gain holds on average over the locales but, contrary to the
#     prediction, **not** in every locale on every seed, because most right-of-digit peaks stay
#     inside their field;
#   - lowered the phoneme error rate on CMUdict (by at least 0.03) and raised word accuracy (by
#     at least 0.04).
#   `tests/test_bidirectional.py` repeats these comparisons on seeds 1 and 2.
#
# **Every asserted number, on seeds 0-2** (forward only → bidirectional; seed 0 is this
# notebook, seeds 1 and 2 the tests, same code and margins):
#
# | measured | asserted | seed 0 | seed 1 | seed 2 |
# |---|---|---|---|---|
# | sweep: exact match at 20 letters | lift ≥ 0.15; bidirectional ≤ 0.75 | 0.23 → 0.45 | 0.17 → 0.58 | 0.18 → 0.47 |
# | 20 letters: right length, a wrong letter | falls by ≥ 0.3 | 0.71 → 0.10 | 0.63 → 0.12 | 0.62 → 0.09 |
# | 20 letters: wrong length | rises by ≥ 0.05 | 0.06 → 0.35 | 0.09 → 0.22 | 0.15 → 0.40 |
# | dates: exact match (3 epochs) | rises by ≥ 0.05 | 0.495 → 0.722 | 0.597 → 0.689 | 0.556 → 0.767 |
# | peaks on the digit (offset 0) | forward ≥ 0.5; bidirectional ≥ 0.85 | 0.715 → 0.898 | 0.781 → 0.892 | 0.731 → 0.870 |
# | forward only: peaks right / left of the digit | ≥ 0.15 / ≤ 0.05 | 0.253 / 0.032 | 0.208 / 0.011 | 0.247 / 0.022 |
# | mean peak offset | forward ≥ +0.2; bidirectional within ±0.15 | +0.53 → +0.09 | +0.27 → +0.08 | +0.42 → +0.10 |
# | peaks 2+ right; forward's share on the last character | forward ≥ 2× bidirectional; ≥ 0.2 | 838 vs 87; 0.30 | 242 vs 98; 0.26 | 915 vs 204; 0.34 |
# | mean gain over locales: character / field | 0 < field < character | +0.16 / +0.12 | +0.12 / +0.03 | +0.13 / +0.02 |
# | forward only: right-of-digit peaks inside their field | ≥ 0.6 | 0.65 | 0.84 | 0.82 |
# | CMUdict: phoneme error rate | falls by ≥ 0.03 | 0.323 → 0.267 | 0.320 → 0.275 | 0.319 → 0.265 |
# | CMUdict: word accuracy | rises by ≥ 0.04 | 0.176 → 0.265 | 0.188 → 0.255 | 0.183 → 0.265 |
#
# Also asserted on every seed: the weight on the true character rises by at least 0.05 in every
# locale, and the two models' parameter counts differ by less than 1%. The notebook takes about
# 37 s of CPU; `make notebooks` measured 29 s on a quiet machine and up to 105 s on two cores
# shared with other jobs.
#
# ## 8. Exercises
#
# **Exercise 6.1: reverse within lengths.** Write `reverse_padded(x, lengths)`: `x` is
# `(batch, T)` or `(batch, T, features)` with padding at the end of each row, `lengths`
# `(batch,)`; return a new array in which each row's first `lengths[b]` steps are reversed and
# its padding stays where it was, unchanged. Do not modify `x`.

# %% slideshow={"slide_type": "subslide"}
def reverse_padded(x, lengths):
    """Each row's first lengths[b] steps reversed, the padding after them left in place."""
    ### BEGIN SOLUTION
    out = np.array(x, copy=True)  # (batch, T, ...)
    for b, n in enumerate(lengths):
        out[b, :n] = x[b, :n][::-1]  # reverse along time only; feature vectors move as a whole
    return out
    ### END SOLUTION


check_reverse_within_lengths(reverse_padded)

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Exercise 6.2: the backward pass of the wrapper.** Both layers have run forward as in
# section 3: `forward_layer` on `x`, `backward_layer` on `x` reversed within `lengths`, and the
# states were joined as `[forward ; reversed back(backward)] * mask`. Given `dh`
# `(batch, T, 2H)`, return `dx` `(batch, T, D)`, calling each layer's `backward` once (that
# fills their `grads`). Section 3's four steps are the recipe; `reverse_within_lengths` and
# `length_mask` are imported above.

# %% slideshow={"slide_type": "subslide"}
def bidirectional_backward(dh, lengths, forward_layer, backward_layer):
    """dx (batch, T, D) of the bidirectional wrapper, given dh (batch, T, 2H)."""
    ### BEGIN SOLUTION
    H = forward_layer.hidden_size
    dh = dh * length_mask(lengths, dh.shape[1])[:, :, None]  # (batch, T, 2H): no gradient from padding
    dx_forward = forward_layer.backward(dh[:, :, :H])  # (batch, T, D)
    dx_backward = backward_layer.backward(reverse_within_lengths(dh[:, :, H:], lengths))  # in its reading order
    return dx_forward + reverse_within_lengths(dx_backward, lengths)  # x feeds both directions
    ### END SOLUTION


check_bidirectional_backward(bidirectional_backward)

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Exercise 6.3 (open): how much does the bridge matter with attention?** Retrain section
# 6.3's bidirectional model with `bridge="zeros"` (everything else as in `g2p_models`): the
# decoder starts from zeros and sees the word only through attention. Predict first: better,
# the same, or worse than the linear bridge, and by how much? Then run it and compare
# `phoneme_scores` and `num_parameters()`.
#
# <details><summary>Expected outcome (open after you have predicted)</summary>
#
# In our run (seed 0) the decoder that starts from zeros did worse: phoneme error rate 0.32
# against the linear bridge's 0.27, word accuracy 0.25 against 0.27, for 8,320 fewer parameters
# ($2 \cdot (2 \cdot 32 + 1) \cdot 64$). Attention reads every letter at every step, yet the
# first state still carries something the decoder uses. (One seed: an observation, not a claim.)
# </details>
#
# **Exercise 6.4 (open): more data for the sweep.** Rerun section 6.1 with 8,000 pairs
# (`n_train=8000`) for both encoders. Predict first: does the bidirectional curve become flat
# (at least 0.85 at every length, as chapter 03's read-backwards curve with 8,000 pairs)? Does
# the gap at 20 letters grow or shrink? Then, for a 20-letter source that the bidirectional
# model gets wrong, look at `model.attention(source)`:
# does it skip a position or read one twice (section 6.1's hypothesis), or read the wrong copy
# of a repeated letter?
#
# <details><summary>Expected outcome (open after you have predicted)</summary>
#
# In our run (seed 0) both curves rose and neither became flat: at 20 letters 0.68 forward
# only and 0.70 bidirectional (at 18 letters 0.82 and 0.90), so with twice the data the gap at
# 20 letters almost closes. Section 6.1's lift belongs to the small budget. (One seed: an
# observation, not a claim.)
# </details>

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
# # 00 · Getting started
#
# This course teaches [sequence-to-sequence](GLOSSARY.md#seq2seq) models and [attention](GLOSSARY.md#attention), from a single recurrent cell
# to deep [bidirectional](GLOSSARY.md#bidirectional) [encoders](GLOSSARY.md#encoder) with attention and [beam search](GLOSSARY.md#beam-search). Every idea is
# **explained**, **implemented from scratch** in NumPy (with a hand-written backward pass that
# a numerical [gradient check](GLOSSARY.md#gradient-check) verifies), **checked against PyTorch**, and **demonstrated by an
# experiment** small enough for a laptop CPU (a chapter's notebook needs about a minute of
# CPU or less; section 3 lists what each one took) that `assert`s what it shows.
#
# After this short chapter you will be able to
# 1. run the notebooks and the tests, and refresh a notebook's stored outputs;
# 2. find the shared code in `utils` and read what a function expects;
# 3. explain why every notebook starts with `utils.setup(seed=0)`;
# 4. do an exercise and read what its checker tells you.

# %% slideshow={"slide_type": "skip"}
import numpy as np
import torch

import utils

device = utils.setup(seed=0)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. Running the course
#
# From the repository's top folder, with Python 3.10 or newer:
#
# | command | what it does |
# |---|---|
# | `make lab` | creates `.venv` on first use, installs the pinned packages, opens JupyterLab |
# | `make test` | the same set-up, then the linter (`ruff check`) and every test: `utils`, the data files, and every notebook re-run and compared with its stored outputs |
# | `make notebooks` | re-executes every notebook (or `NB=chapters/01_rnn_basics.ipynb`) exactly as the tests do, and prints each run time |
# | `make student` | writes exercise copies with the solutions removed to `student/`; a copy you have edited is never overwritten |
#
# Each notebook comes in two files: `NN_name.ipynb`, which keeps its outputs so you can read
# results without running anything, and `NN_name.py`, the same cells as a plain script
# ([jupytext](https://jupytext.readthedocs.io) keeps them paired), which is easier to diff.
#
# ## 2. Where the shared code lives
#
# Code a chapter *explains* is written out in that chapter. Code it *reuses* lives once in
# the `utils` package, which every notebook imports. The modules are small, one concept
# each:

# %% slideshow={"slide_type": "subslide"}
print(utils.__doc__.split("Modules (one concept each):")[1])

# %% [markdown] slideshow={"slide_type": "-"}
# Every function you meet in the text has a docstring that says what goes in and what comes
# out, with shapes. `help(utils.Vocab)` or `utils.Vocab?` shows it. Here is the vocabulary
# that turns characters into the integer ids a model reads, with the four special tokens
# every seq2seq model needs: [padding](GLOSSARY.md#padding), begin, end and unknown.

# %% slideshow={"slide_type": "subslide"}
vocab = utils.Vocab.build(["16+75", "3+4"])
print(vocab)
ids, lengths = vocab.encode_batch(["16+75", "9+9"], bos=True, eos=True)
print(ids)      # (batch=2, max_len=7): <s>=1 first, </s>=2 last, <pad>=0 fills the short row
print(lengths)  # the true lengths, so padding can be ignored later
assert ids.shape == (2, 7) and lengths.tolist() == [7, 5]
print(vocab.decode(ids[1]))  # '9' was never seen, so it became <unk>
assert vocab.decode(ids[0]) == "16+75"
assert vocab.decode(ids[1]) == "<unk>+<unk>" and vocab.encode("9") == [vocab.unk_id]

# %% [markdown] slideshow={"slide_type": "-"}
# Bad input gets a clear error, never a silent wrong answer or a NaN:

# %% slideshow={"slide_type": "subslide"}
try:
    vocab.encode("")
except ValueError as err:
    print("ValueError:", err)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. Seeds and one thread
#
# Training starts from random weights and visits the data in random order, so two runs give
# different numbers unless every random generator starts from the same seed. `utils.setup`
# seeds Python, NumPy and PyTorch, and returns the device to use: a CUDA GPU when there is
# one, else the CPU. Everything in this course runs on a CPU; here is what
# each chapter's notebook took, executed from start to end as `make notebooks` does, measured
# on 24 November 2026 on a shared 2-core machine. *CPU* is the notebook kernel's own CPU time,
# close to what it takes on an idle laptop core; *wall* is the elapsed time while other
# programs competed for the two cores, 1.7 to 3.2 times the CPU time. `make notebooks` prints
# the run time of each notebook on your machine.
#
# | chapter | CPU | wall (busy machine) |
# |---|---|---|
# | 00 Getting started | 11 s | 19 s |
# | 01 [RNN](GLOSSARY.md#rnn) basics | 16 s | 32 s |
# | 02 Seq2seq [bottleneck](GLOSSARY.md#bottleneck) | 48 s | 115 s |
# | 03 [Alignment](GLOSSARY.md#alignment) and the [context vector](GLOSSARY.md#context-vector) | 54 s | 147 s |
# | 04 [Bahdanau](GLOSSARY.md#bahdanau-attention) vs [Luong](GLOSSARY.md#luong-attention) | 42 s | 87 s |
# | 05 [Masking](GLOSSARY.md#masking) | 14 s | 40 s |
# | 06 Bidirectional encoders | 33 s | 91 s |
# | 07 Deep seq2seq and [skip connections](GLOSSARY.md#skip-connection) | 60 s | 192 s |
#
# So a chapter is a minute of computing or less: small models, small data, few epochs,
# chosen so that each experiment still shows what the text says it shows.

# %% slideshow={"slide_type": "subslide"}
def tiny_training_run(seed=0, threads=1):
    """Ten Adam steps of a small GRU on random data; returns the final loss.

    With ``seed=None`` the generators are *not* reseeded: the run continues from wherever
    the previous one left them.
    """
    if seed is not None:
        utils.setup(seed=seed, threads=threads)
    gru = torch.nn.GRU(input_size=8, hidden_size=32, batch_first=True)
    head = torch.nn.Linear(32, 5)
    optimizer = torch.optim.Adam([*gru.parameters(), *head.parameters()], lr=1e-2)
    x = torch.randn(16, 12, 8)          # (batch, time, features)
    y = torch.randint(0, 5, (16,))      # one class per sequence
    for _ in range(10):
        _, h_last = gru(x)              # h_last: (layers=1, batch, hidden)
        loss = torch.nn.functional.cross_entropy(head(h_last[-1]), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return loss.item()


first, second = tiny_training_run(seed=0), tiny_training_run(seed=0)
third = tiny_training_run(seed=None)  # no reseeding: new weights, new data
print(f"seed 0:        {first!r}\nseed 0 again:  {second!r}\nnot reseeded:  {third!r}")
assert first == second  # bit for bit, not just close
assert third != first   # without the seed, a run is a different run

# %% [markdown] slideshow={"slide_type": "subslide"}
# `utils.setup` also sets PyTorch to **one thread**. By default PyTorch uses one thread per
# CPU core, so the same notebook would run with two threads on one machine and eight on
# another. A sum split over a different number of threads is added in a different order,
# and floating-point addition is not associative (`(a + b) + c` can differ from
# `a + (b + c)` in the last digit), so results could differ between machines in their last
# digits, and the outputs stored in these notebooks would not be the ones you get. Fixing
# the thread count removes that source of difference.
#
# For models this small, a second thread also buys nothing: the work in one step is too
# small to be worth sharing. The next cell times the same run with one and with two threads
# (its output is not compared by the tests, since timings vary from run to run, but it
# still checks what the text claims: one thread is not meaningfully slower).

# %% slideshow={"slide_type": "subslide"} tags=["nbval-ignore-output"]
import time


def seconds_per_run(threads, repeats=5):
    tiny_training_run(seed=0, threads=threads)  # warm-up: the first run pays one-off costs
    start = time.perf_counter()
    for _ in range(repeats):
        tiny_training_run(seed=0, threads=threads)
        assert torch.get_num_threads() == threads
    return (time.perf_counter() - start) / repeats


timings = {1: [], 2: []}
for threads in (1, 2, 2, 1):  # alternate, so a busy moment does not hit one setting only
    timings[threads].append(seconds_per_run(threads))
one_thread, two_threads = min(timings[1]), min(timings[2])
utils.setup(seed=0)  # back to one thread
print(f"one thread: {one_thread * 1000:.0f} ms per run, two threads: {two_threads * 1000:.0f} ms per run")
assert torch.get_num_threads() == 1
assert one_thread < 1.5 * two_threads, "one thread should be about as fast as two for a model this small"

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. Exercises and checkers
#
# Chapters end with exercises. Where an answer can be checked, a checker from `utils` runs
# your function on several cases and tells you *which* case failed, what it expected and
# what it got. Here is one.
#
# **Exercise 0.1: a numerically stable [softmax](GLOSSARY.md#softmax).** The softmax turns scores $z_1..z_n$ into
# probabilities
# $$\operatorname{softmax}(z)_i = \frac{e^{z_i}}{\sum_j e^{z_j}}.$$
# For $z = (1000, 1001, 1002)$, $e^{1000}$ overflows to `inf` and the result is `nan`.
# Since $\operatorname{softmax}(z) = \operatorname{softmax}(z - c)$ for any constant $c$
# (the factor $e^{-c}$ cancels), subtracting $c = \max_j z_j$ keeps every exponent $\le 0$.
# Write `stable_softmax(x)` that works over the **last** axis of an array of any rank.
#
# Your code goes between the solution markers; the student copies made by `make student`
# have `raise NotImplementedError` there instead of our solution.

# %% slideshow={"slide_type": "subslide"}
def stable_softmax(x):
    """Softmax over the last axis of x, without overflow."""
    ### BEGIN SOLUTION
    shifted = x - np.max(x, axis=-1, keepdims=True)  # every exponent is now <= 0
    e = np.exp(shifted)
    return e / np.sum(e, axis=-1, keepdims=True)
    ### END SOLUTION


utils.check_stable_softmax(stable_softmax)

# %% [markdown] slideshow={"slide_type": "-"}
# And this is what a checker says about a common wrong answer, the textbook formula without
# the shift:

# %% slideshow={"slide_type": "subslide"}
def naive_softmax(x):
    return np.exp(x) / np.sum(np.exp(x), axis=-1, keepdims=True)


with np.errstate(over="ignore", invalid="ignore"):
    try:
        utils.check_stable_softmax(naive_softmax)
    except utils.CheckFailed as err:
        print(err)
        message = str(err)
assert "large logits" in message and "Subtract the maximum" in message

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. A tour of the chapters
#
# | chapter | what you will build and measure |
# |---|---|
# | 01 RNN basics | RNN, [LSTM](GLOSSARY.md#lstm) (with [peephole](GLOSSARY.md#peephole)) and [GRU](GLOSSARY.md#gru) cells from scratch with [backpropagation through time](GLOSSARY.md#bptt); [vanishing gradients](GLOSSARY.md#vanishing-gradient) measured; a memory task an RNN fails and an LSTM solves |
# | 02 seq2seq and the bottleneck | an [encoder-decoder](GLOSSARY.md#encoder-decoder), [teacher forcing](GLOSSARY.md#teacher-forcing) and [exposure bias](GLOSSARY.md#exposure-bias); accuracy falls with source length when one vector must carry the whole input |
# | 03 Alignment and the context vector | attention as a softmax-weighted sum; the length sweep again, now flat; learned attention compared with the true alignment of dates in many locales |
# | 04 Bahdanau vs Luong | additive and [multiplicative scores](GLOSSARY.md#multiplicative-attention), scaling by $\sqrt{d}$, [local attention](GLOSSARY.md#local-attention); accuracy, size and speed side by side |
# | 05 Masking | padding and [causal masks](GLOSSARY.md#causal-mask), [queries/keys/values](GLOSSARY.md#queries-keys-and-values), self- and [cross-attention](GLOSSARY.md#cross-attention), [masked language modelling](GLOSSARY.md#masked-language-modelling) |
# | 06 Bidirectional encoders | left and right context; when it matters |
# | 07 Deep seq2seq and skip connections | stacking layers, [residual connections](GLOSSARY.md#residual-connection), beam search on real data |
#
# Chapters 04 to 07 are being written; the README lists what is there now.
#
# ## What we saw
# The same seed gives the same numbers bit for bit, the shared code lives in `utils` and
# explains itself, and a checker says exactly which case of an exercise went wrong.

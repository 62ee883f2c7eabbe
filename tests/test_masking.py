"""Chapter 05: masks, scaled dot-product attention (NumPy and torch), the 80-10-10 procedure and
the two tiny self-attention experiments (seeds 1 and 2; the notebook asserts seed 0)."""
import datetime
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import utils.nn.masking as tm
import utils.scratch.masking as sm
from utils.scratch.gradcheck import check_layer


# ------------------------------------------------------------------ masks
def test_padding_mask_values_and_errors():
    assert sm.padding_mask([3, 1, 0], 4).tolist() == [[True, True, True, False], [True, False, False, False],
                                                      [False] * 4]
    assert sm.padding_mask(np.array([2, 1])).shape == (2, 2)
    assert torch.equal(tm.padding_mask(torch.tensor([3, 1, 0]), 4), torch.from_numpy(sm.padding_mask([3, 1, 0], 4)))
    with pytest.raises(ValueError, match="cut real tokens"):
        sm.padding_mask([5, 2], 3)
    with pytest.raises(ValueError, match=">= 0"):
        sm.padding_mask([2, -1])
    with pytest.raises(TypeError, match="integers"):
        sm.padding_mask([1.5, 2.0])
    with pytest.raises(ValueError):
        tm.padding_mask(torch.tensor([3, 1]), 2)


def test_causal_mask_matches_torch_is_causal_convention():
    mask = sm.causal_mask(3, 5)
    assert mask.tolist() == [[True, False, False, False, False], [True, True, False, False, False],
                             [True, True, True, False, False]]
    assert torch.equal(tm.causal_mask(3, 5), torch.from_numpy(mask))
    assert sm.causal_mask(4).diagonal().all()  # a position sees itself
    with pytest.raises(ValueError, match="positive int"):
        sm.causal_mask(0)


# ------------------------------------------------------------------ NumPy attention
def random_qkv(rng, lead=(2,), n_queries=4, n_keys=5, d_k=3, d_v=6):
    return (rng.standard_normal((*lead, n_queries, d_k)), rng.standard_normal((*lead, n_keys, d_k)),
            rng.standard_normal((*lead, n_keys, d_v)))


@pytest.mark.parametrize("case", ["none", "padding", "full", "causal", "causal+padding", "heads", "empty row"])
def test_numpy_attention_backward_passes_gradient_check(case):
    rng = np.random.default_rng(0)
    lead = (2, 3) if case == "heads" else (2,)
    q, k, v = random_qkv(rng, lead)
    mask, causal = None, case.startswith("causal")
    if case in ("padding", "causal+padding", "heads"):
        mask = sm.padding_mask([5, 3], 5)[:, None, :]  # (batch, 1, n_keys)
        if case == "heads":
            mask = mask[:, None]  # (batch, 1, 1, n_keys)
    elif case == "full":
        mask = rng.random((2, 4, 5)) < 0.6
        mask[:, :, 0] = True
    elif case == "empty row":
        mask = np.ones((2, 4, 5), dtype=bool)
        mask[1, 2] = False  # query 2 of sequence 1 may attend to nothing
    errors = check_layer(sm.ScaledDotProductAttention(), q, k, v, mask=mask, causal=causal)
    assert max(errors.values()) < 1e-7, errors


def test_numpy_attention_fully_masked_row_gives_zeros_and_zero_gradient():
    rng = np.random.default_rng(1)
    q, k, v = random_qkv(rng)
    mask = np.ones((2, 4, 5), dtype=bool)
    mask[0, 1] = False
    layer = sm.ScaledDotProductAttention()
    out = layer.forward(q, k, v, mask)
    assert np.all(layer.weights[0, 1] == 0) and np.all(out[0, 1] == 0)
    grads = layer.backward(np.ones_like(out))
    assert all(np.all(np.isfinite(g)) for g in grads) and np.all(grads[0][0, 1] == 0)  # dquery of the empty row


def test_numpy_attention_errors_name_the_problem():
    rng = np.random.default_rng(2)
    q, k, v = random_qkv(rng, lead=(4,), n_queries=4, n_keys=4)  # batch == n_queries: the silent-broadcast trap
    with pytest.raises(ValueError, match="one axis per score axis"):
        sm.scaled_dot_product_attention(q, k, v, mask=sm.padding_mask([4, 3, 2, 1]))
    with pytest.raises(TypeError, match="boolean"):
        sm.scaled_dot_product_attention(q, k, v, mask=sm.padding_mask([4, 3, 2, 1])[:, None].astype(int))
    with pytest.raises(ValueError, match="axis 1 has size 3"):
        sm.scaled_dot_product_attention(q, k, v, mask=np.ones((4, 3, 4), dtype=bool))
    with pytest.raises(ValueError, match="same last size d_k"):
        sm.scaled_dot_product_attention(q, k[..., :2], v)
    with pytest.raises(ValueError, match="one row per key"):
        sm.scaled_dot_product_attention(q, k, v[:, :3])
    with pytest.raises(ValueError, match="NaN"):
        sm.scaled_dot_product_attention(q * np.nan, k, v)
    with pytest.raises(TypeError, match="torch tensor"):
        sm.scaled_dot_product_attention(torch.tensor(q), k, v)


# ------------------------------------------------------------------ torch attention vs F.sdpa vs NumPy
def mask_cases(rng, batch, n_queries, n_keys):
    padding = torch.from_numpy(sm.padding_mask(rng.integers(1, n_keys + 1, size=batch), n_keys))
    yield "none", None, False
    yield "padding (batch, 1, n_keys)", padding[:, None, :], False
    yield "full boolean", torch.from_numpy(rng.random((batch, n_queries, n_keys)) < 0.7), False
    yield "per-query (1, n_queries, n_keys)", torch.from_numpy(rng.random((1, n_queries, n_keys)) < 0.7), False
    yield "causal", None, True
    yield "causal + padding", padding[:, None, :], True


@pytest.mark.parametrize("seed", range(6))
def test_torch_attention_equals_torch_sdpa_and_numpy(seed):
    rng = np.random.default_rng(seed)
    batch, n_queries, n_keys = (int(x) for x in rng.integers(1, 7, size=3))
    if seed % 2:
        n_keys = n_queries  # square scores, as in self-attention
    d_k, d_v = (int(x) for x in rng.integers(1, 9, size=2))
    q, k, v = (torch.tensor(rng.standard_normal(shape)) for shape in
               ((batch, n_queries, d_k), (batch, n_keys, d_k), (batch, n_keys, d_v)))
    for name, mask, causal in mask_cases(rng, batch, n_queries, n_keys):
        out, weights = tm.scaled_dot_product_attention(q, k, v, mask, causal)
        combined = mask
        if causal:  # torch's function refuses attn_mask together with is_causal: combine them by hand
            future = tm.causal_mask(n_queries, n_keys)[None]  # (1, n_queries, n_keys)
            combined = future if mask is None else mask & future
        reference = F.scaled_dot_product_attention(q, k, v, attn_mask=combined)
        assert torch.allclose(out, reference, atol=1e-12), name
        if mask is None:
            assert torch.allclose(out, F.scaled_dot_product_attention(q, k, v, is_causal=causal), atol=1e-12), name
        out_np, weights_np = sm.scaled_dot_product_attention(q.numpy(), k.numpy(), v.numpy(),
                                                             None if mask is None else mask.numpy(), causal)
        assert np.allclose(out_np, out.numpy(), atol=1e-12), name
        assert np.allclose(weights_np, weights.numpy(), atol=1e-12), name


def test_torch_attention_four_axes_and_backward_equal_numpy():
    rng = np.random.default_rng(7)
    q, k, v = random_qkv(rng, lead=(2, 3))
    mask = sm.padding_mask([5, 2], 5)[:, None, None, :]  # (batch, 1 head, 1 query, n_keys)
    dout = rng.standard_normal((2, 3, 4, 6))
    layer = sm.ScaledDotProductAttention()
    layer.forward(q, k, v, mask, causal=True)
    grads_np = layer.backward(dout)
    tensors = [torch.tensor(x, requires_grad=True) for x in (q, k, v)]
    out, _ = tm.scaled_dot_product_attention(*tensors, torch.from_numpy(mask), causal=True)
    (out * torch.from_numpy(dout)).sum().backward()
    for g_np, t in zip(grads_np, tensors):
        assert np.allclose(g_np, t.grad.numpy(), atol=1e-12)
    reference = F.scaled_dot_product_attention(*(torch.tensor(x) for x in (q, k, v)),
                                               attn_mask=torch.from_numpy(mask) & tm.causal_mask(4, 5))
    assert torch.allclose(out, reference, atol=1e-12)


def test_torch_attention_fully_masked_row_no_nan_forward_or_backward():
    q, k, v = (torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True) for _ in range(3))
    mask = torch.ones(2, 3, 3, dtype=torch.bool)
    mask[1, 0] = False
    out, weights = tm.scaled_dot_product_attention(q, k, v, mask)
    out.sum().backward()
    assert torch.all(weights[1, 0] == 0) and torch.all(out[1, 0] == 0)
    assert all(torch.isfinite(t.grad).all() for t in (q, k, v))


def test_torch_attention_refuses_a_mask_that_would_broadcast_wrongly():
    q = k = v = torch.randn(3, 3, 4)  # batch == n_queries == 3
    with pytest.raises(ValueError, match="one axis per score axis"):
        tm.scaled_dot_product_attention(q, k, v, tm.padding_mask(torch.tensor([3, 2, 1])))
    with pytest.raises(ValueError, match="one axis per score axis"):
        tm.scaled_dot_product_attention(q, k, v, tm.padding_mask(torch.tensor([3, 2, 1])), causal=True)
    with pytest.raises(TypeError, match="bool"):
        tm.scaled_dot_product_attention(q, k, v, torch.ones(3, 1, 3))


# ------------------------------------------------------------------ causal: no information from the future
def test_changing_a_future_token_never_changes_an_earlier_output():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 6, 4))  # (batch, seq_len, d): Q = K = V = x, self-attention
    changed = x.copy()
    changed[0, 4] += 10.0  # change position 4
    out, _ = sm.scaled_dot_product_attention(x, x, x, causal=True)
    out_changed, _ = sm.scaled_dot_product_attention(changed, changed, changed, causal=True)
    assert np.array_equal(out[0, :4], out_changed[0, :4])  # positions 0..3 cannot see position 4
    assert not np.allclose(out[0, 4:], out_changed[0, 4:])
    no_mask, _ = sm.scaled_dot_product_attention(x, x, x)
    no_mask_changed, _ = sm.scaled_dot_product_attention(changed, changed, changed)
    assert not np.allclose(no_mask[0, :4], no_mask_changed[0, :4])  # without the mask the past changes too


def test_char_model_causal_is_blind_to_the_future_and_to_padding():
    from utils.vocab import Vocab
    torch.manual_seed(0)
    vocab = Vocab.build(["abcdef"])
    ids = torch.tensor([vocab.encode("abcdef", bos=True)])
    changed = ids.clone()
    changed[0, 5] = vocab.stoi["a"]
    for causal in (True, False):
        model = tm.CharSelfAttentionModel(vocab, 10, causal=causal, layers=2).eval()
        with torch.no_grad():
            before, after = model(ids), model(changed)
            same_past = torch.allclose(before[0, :5], after[0, :5], atol=0)
            assert same_past == causal
            padded, _ = vocab.pad_batch([ids[0].tolist(), ids[0].tolist() + [4, 5, 6]])  # a longer neighbour
            assert torch.allclose(model(padded)[0, :ids.shape[1]], before[0], atol=1e-5)


# ------------------------------------------------------------------ 80-10-10
def test_mlm_mask_never_picks_specials_and_has_the_right_proportions():
    rng = np.random.default_rng(0)
    ids = rng.integers(4, 40, size=(500, 60))
    ids[:, 0], ids[:, 50], ids[:, 51:] = 1, 2, 0  # <s>, </s>, pads
    inputs, labels = sm.mlm_mask(ids, mask_id=3, vocab_size=40, special_ids=[0, 1, 2, 3], rng=rng)
    chosen = labels != sm.IGNORE_LABEL
    assert not chosen[:, [0, *range(50, 60)]].any()  # specials and pads never chosen
    assert np.array_equal(labels[chosen], ids[chosen]) and np.array_equal(inputs[~chosen], ids[~chosen])
    n_ordinary = 500 * 49
    n = int(chosen.sum())
    masked = (inputs[chosen] == 3).mean()
    same = (inputs[chosen] == ids[chosen]).mean()
    other = 1 - masked - same
    assert not np.isin(inputs[chosen & (inputs != 3)], [0, 1, 2]).any()

    def z(share, p, total):
        return abs(share - p) / np.sqrt(p * (1 - p) / total)

    assert z(n / n_ordinary, 0.15, n_ordinary) < 4
    assert z(masked, 0.8, n) < 4
    assert z(same, 0.1 + 0.1 / 36, n) < 4  # a random draw may equal the original (1 in 36 ordinary ids)
    assert z(other, 0.1 - 0.1 / 36, n) < 4


def test_mlm_mask_errors():
    rng = np.random.default_rng(0)
    ids = np.array([[1, 5, 6, 2]])
    with pytest.raises(ValueError, match="mask_id 9 must be one of special_ids"):
        sm.mlm_mask(ids, mask_id=9, vocab_size=10, special_ids=[0, 1, 2], rng=rng)
    with pytest.raises(ValueError, match=r"\[0, vocab_size=6\)"):
        sm.mlm_mask(ids, mask_id=3, vocab_size=6, special_ids=[0, 1, 2, 3], rng=rng)
    with pytest.raises(ValueError, match="<= 1"):
        sm.mlm_mask(ids, mask_id=3, vocab_size=10, special_ids=[0, 1, 2, 3], rng=rng, mask_prob=0.95)
    with pytest.raises(TypeError, match="Generator"):
        sm.mlm_mask(ids, mask_id=3, vocab_size=10, special_ids=[0, 1, 2, 3], rng=0)


# ------------------------------------------------------------------ the chapter's experiments on seeds 1 and 2
# The notebook asserts seed 0 with exactly these settings (chapters/05_masking.py, Sections 8 and 9).
NEXT_CHAR = dict(epochs=5, batch_size=32, lr=3e-3, d_model=32, layers=1)
MLM = dict(epochs=3, batch_size=64, lr=5e-3, d_model=32, layers=2)


def real_dates(strings):
    def is_date(s):
        try:
            return re.fullmatch(r"\d{4}-\d{2}-\d{2}", s) is not None and bool(datetime.date.fromisoformat(s))
        except ValueError:
            return False
    return float(np.mean([is_date(s) for s in strings]))


@pytest.mark.parametrize("seed", [1, 2])
def test_without_the_causal_mask_the_model_cheats(seed):
    from utils.datasets import load_dates
    torch.manual_seed(seed)
    iso_dates = [target for _, target in load_dates("train")[:2000]]
    held_out = [target for _, target in load_dates("valid")[:500]]
    results = {}
    for causal in (True, False):
        model = tm.train_next_char_model(iso_dates, causal=causal, seed=seed, progress=False, verbose=False,
                                         **NEXT_CHAR)
        with torch.no_grad():
            ids, _ = model.vocab.pad_batch([model.vocab.encode(t, bos=True, eos=True) for t in held_out])
            teacher_forced = tm.next_char_loss(model, ids).item()
        results[causal] = dict(train=model.history.loss[-1], teacher_forced=teacher_forced,
                               future_hidden=tm.generation_loss(model, held_out),
                               real=real_dates(tm.sample_strings(model, 200, seed=seed)), model=model)
    honest, cheat = results[True], results[False]
    assert cheat["train"] < 0.05 and honest["train"] > 0.5
    assert cheat["teacher_forced"] < 0.05
    assert abs(honest["future_hidden"] - honest["teacher_forced"]) < 1e-4
    assert cheat["future_hidden"] >= honest["future_hidden"] + 1.0
    assert honest["real"] >= 0.9 and cheat["real"] <= 0.6
    model = cheat["model"]
    ids, _ = model.vocab.pad_batch([model.vocab.encode(t, bos=True, eos=True) for t in iso_dates[:200]])
    with torch.no_grad():
        model(ids[:, :-1])
    assert torch.diagonal(model.last_weights[0], offset=1, dim1=1, dim2=2).mean().item() > 0.5


@pytest.mark.parametrize("seed", [1, 2])
def test_masked_model_beats_the_frequency_guess_and_the_noise_matters(seed):
    from collections import Counter

    from utils.datasets import load_cmudict
    torch.manual_seed(seed)
    words = [word for word, _ in load_cmudict("train")][:8000]
    test_words = [word for word, _ in load_cmudict("test")]
    noise = tm.train_masked_char_model(words, mask_prob=0.8, random_prob=0.1, seed=seed, progress=False,
                                       verbose=False, **MLM)
    all_mask = tm.train_masked_char_model(words, mask_prob=1.0, random_prob=0.0, seed=seed, progress=False,
                                          verbose=False, **MLM)
    hidden = np.random.default_rng(seed)
    positions = [hidden.integers(len(w)) for w in test_words]
    most_common = Counter("".join(words)).most_common(1)[0][0]
    baseline = np.mean([w[p] == most_common for w, p in zip(test_words, positions)])
    accuracy = {(name, c): tm.masked_letter_accuracy(model, test_words, seed=seed, corruption=c)
                for name, model in (("noise", noise), ("all", all_mask)) for c in ("mask", "none")}
    assert accuracy["noise", "mask"] >= baseline + 0.05
    assert accuracy["all", "mask"] >= baseline + 0.05
    assert accuracy["noise", "none"] >= 0.8 and accuracy["all", "none"] <= 0.4


# ------------------------------------------------------------------ the course's model: padding changes nothing
@pytest.mark.parametrize("settings", [
    dict(attention=None),
    dict(attention="dot"),
    dict(attention="bahdanau", bidirectional=True),
    dict(attention="luong-general", layers=2, reverse_source=True),
    dict(attention="scaled-dot", cell="gru", bidirectional=True, encoder_hidden_size=8),
], ids=["plain", "dot", "bahdanau-bi", "general-2layers-reversed", "scaled-dot-gru-bi"])
def test_seq2seq_outputs_do_not_depend_on_the_padding_of_the_batch(settings):
    from utils.datasets import load_dates
    from utils.nn import Seq2Seq
    from utils.vocab import Vocab
    pairs = load_dates("valid")[:100]
    src_vocab, tgt_vocab = Vocab.build([s for s, _ in pairs]), Vocab.build([t for _, t in pairs])
    short = min(pairs, key=lambda pair: len(pair[0]))
    longest = sorted(pairs, key=lambda pair: -len(pair[0]))[:5]
    assert len(longest[0][0]) >= 3 * len(short[0])  # the short source is padded at least twice its length
    torch.manual_seed(0)
    model = Seq2Seq(src_vocab, tgt_vocab, hidden_size=16, **settings).eval()
    alone, padded = model.log_prob([short])[0], model.log_prob([short] + longest)[0]
    assert abs(alone - padded) < 1e-4
    trace_alone = model.trace([short[0]], [short[1]])[0]
    trace_padded = model.trace([short[0]] + [s for s, _ in longest], [short[1]] + [t for _, t in longest])[0]
    assert np.allclose(trace_alone.logits, trace_padded.logits, atol=1e-4)
    assert np.allclose(trace_alone.encoder_states, trace_padded.encoder_states, atol=1e-5)
    if trace_alone.weights is not None:
        assert trace_padded.weights.shape == (len(short[1]) + 1, len(short[0]))  # no columns for the pads
        assert np.allclose(trace_alone.weights, trace_padded.weights, atol=1e-5)
        assert np.allclose(trace_padded.weights.sum(axis=-1), 1.0, atol=1e-5)  # all the weight on real positions

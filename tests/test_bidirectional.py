"""utils.scratch.bidirectional: reversing within lengths, the gradient check, and parity with
nn.LSTM / nn.GRU(bidirectional=True) on padded, packed batches given the same weights."""
import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from utils.nn.rnn import from_torch, to_torch, torch_grads
from utils.scratch.bidirectional import (
    Bidirectional,
    length_mask,
    reverse_within_lengths,
)
from utils.scratch.gradcheck import check_layer
from utils.scratch.rnn import GRU, LSTM, RNN, PeepholeLSTM

torch.set_num_threads(1)
CELLS = [RNN, LSTM, PeepholeLSTM, GRU]
LENGTHS = np.array([6, 4, 1, 6])  # full rows, a padded row, a one-step row


def bidirectional_torch(layer: Bidirectional, torch_cls):
    """nn.LSTM/GRU(bidirectional=True), float64, batch first, with the NumPy layer's weights.

    torch names the backward direction's parameters like the forward's plus "_reverse"
    (weight_ih_l0_reverse, ...); each direction's layout is that of utils.nn.rnn.to_torch.
    """
    module = torch_cls(layer.input_size, layer.hidden_size, batch_first=True, bidirectional=True,
                       dtype=torch.float64)
    with torch.no_grad():
        for suffix, one_way in (("", layer.forward_layer), ("_reverse", layer.backward_layer)):
            for name, p in to_torch(one_way).named_parameters():
                getattr(module, name + suffix).copy_(p)
    return module


def run_packed(module, x, lengths):
    """module over a packed batch -> (output (batch, T, 2H) zeros at padding, h_n (2, batch, H))."""
    packed = pack_padded_sequence(x, torch.as_tensor(lengths), batch_first=True, enforce_sorted=False)
    out, state = module(packed)
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
    h_n = state[0] if isinstance(state, tuple) else state
    return out, h_n


# ------------------------------------------------------------------ reverse_within_lengths
def test_reverse_within_lengths_keeps_padding_in_place():
    x = np.array([[1, 2, 3, 0, 0], [1, 2, 3, 4, 5], [7, 0, 0, 0, 0]])
    out = reverse_within_lengths(x, [3, 5, 1])
    np.testing.assert_array_equal(out, [[3, 2, 1, 0, 0], [5, 4, 3, 2, 1], [7, 0, 0, 0, 0]])
    np.testing.assert_array_equal(x[0], [1, 2, 3, 0, 0])  # the input is not modified


def test_reverse_within_lengths_is_an_involution_and_moves_features_together():
    x = np.random.default_rng(0).standard_normal((4, 6, 3))
    out = reverse_within_lengths(x, LENGTHS)
    np.testing.assert_array_equal(reverse_within_lengths(out, LENGTHS), x)
    np.testing.assert_array_equal(out[1, 0], x[1, 3])  # a whole feature vector moves
    np.testing.assert_array_equal(out[1, 4:], x[1, 4:])  # padding untouched
    np.testing.assert_array_equal(reverse_within_lengths(x), x[:, ::-1])  # no lengths: a plain flip


@pytest.mark.parametrize("lengths,message", [
    ([3, 5], r"shape \(batch,\)"),
    ([3, 0, 1], "between 1 and T"),
    ([3, 6, 1], "between 1 and T"),
    ([3.5, 2, 1], "integers"),
    ([True, True, True], "integers"),
])
def test_reverse_within_lengths_rejects_bad_lengths(lengths, message):
    with pytest.raises((ValueError, TypeError), match=message):
        reverse_within_lengths(np.zeros((3, 5)), lengths)


def test_length_mask():
    np.testing.assert_array_equal(length_mask(np.array([2, 3]), 3), [[True, True, False], [True, True, True]])


# ------------------------------------------------------------------ the layer
@pytest.mark.parametrize("cell", CELLS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("return_sequences", [True, False], ids=["all", "last"])
def test_gradient_check_with_padding(cell, return_sequences):
    x = np.random.default_rng(1).standard_normal((4, 6, 3))
    layer = Bidirectional(cell, 3, 4, rng=2)
    errors = check_layer(layer, x, lengths=LENGTHS, return_sequences=return_sequences)
    assert set(errors) == {f"{d}.{k}" for d in ("forward", "backward") for k in layer.forward_layer.params} | {"input"}
    assert max(errors.values()) < 1e-6, errors


def test_a_broken_backward_fails_the_check():
    """Not reversing the backward half's gradient is caught: the check can fail."""
    class NotReReversed(Bidirectional):
        def backward(self, dh):
            H, lengths = self.hidden_size, self.cache["lengths"]
            dh = dh * self.cache["mask"]
            dx_b = self.backward_layer.backward(dh[:, :, H:])  # missing: reverse within lengths
            return self.forward_layer.backward(dh[:, :, :H]) + reverse_within_lengths(dx_b, lengths)

    x = np.random.default_rng(1).standard_normal((4, 6, 3))
    errors = check_layer(NotReReversed(GRU, 3, 4, rng=2), x, lengths=LENGTHS)
    assert min(errors[k] for k in errors if k.startswith("backward.") or k == "input") > 1e-2


def test_states_concatenate_a_forward_and_a_backward_read():
    x = np.random.default_rng(3).standard_normal((4, 6, 3))
    layer = Bidirectional(LSTM, 3, 5, rng=4)
    hs = layer.forward(x, LENGTHS)  # (batch, T, 2H)
    assert hs.shape == (4, 6, 10)
    b, n = 1, LENGTHS[1]  # a padded row, read on its own without padding
    alone_forward = layer.forward_layer.forward(x[b:b + 1, :n])  # (1, n, H)
    alone_backward = layer.backward_layer.forward(x[b:b + 1, :n][:, ::-1])[:, ::-1]  # (1, n, H)
    np.testing.assert_allclose(hs[b, :n, :5], alone_forward[0], atol=1e-14)
    np.testing.assert_allclose(hs[b, :n, 5:], alone_backward[0], atol=1e-14)
    assert np.all(hs[b, n:] == 0.0)  # zeros at padding


def test_padding_does_not_change_the_states():
    rng = np.random.default_rng(5)
    layer = Bidirectional(GRU, 3, 4, rng=6)
    x = rng.standard_normal((4, 6, 3))
    garbage = x.copy()
    garbage[~length_mask(LENGTHS, 6)] = 100.0  # any values at padding
    longer = np.concatenate([x, rng.standard_normal((4, 3, 3))], axis=1)  # three more pad steps
    hs = layer.forward(x, LENGTHS)
    np.testing.assert_array_equal(layer.forward(garbage, LENGTHS), hs)
    np.testing.assert_allclose(layer.forward(longer, LENGTHS)[:, :6], hs, atol=1e-14)
    # Reversing the whole padded row instead (the classic mistake) changes the padded rows' states.
    wrong = np.concatenate([layer.forward_layer.forward(x),
                            layer.backward_layer.forward(x[:, ::-1])[:, ::-1]], axis=2)
    assert np.abs(wrong[1, :4] - hs[1, :4]).max() > 1e-2
    np.testing.assert_allclose(wrong[0], hs[0], atol=1e-14)  # a full row is not affected


def test_final_states_are_each_directions_last_state():
    x = np.random.default_rng(7).standard_normal((4, 6, 3))
    layer = Bidirectional(RNN, 3, 2, rng=8)
    hs = layer.forward(x, LENGTHS)
    last = layer.forward(x, LENGTHS, return_sequences=False)  # (batch, 2H)
    for b, n in enumerate(LENGTHS):
        np.testing.assert_array_equal(last[b, :2], hs[b, n - 1, :2])
        np.testing.assert_array_equal(last[b, 2:], hs[b, 0, 2:])


@pytest.mark.parametrize("cell,torch_cls", [(LSTM, nn.LSTM), (GRU, nn.GRU)], ids=["LSTM", "GRU"])
def test_equals_torch_bidirectional_on_a_packed_batch(cell, torch_cls):
    rng = np.random.default_rng(9)
    layer = Bidirectional(cell, 3, 5, rng=10)
    for p in layer.params.values():
        p *= 2.0  # leave the gates' linear range
    module = bidirectional_torch(layer, torch_cls)
    x = rng.standard_normal((4, 6, 3))
    x[~length_mask(LENGTHS, 6)] = 0.0  # what padding embeds to; torch never reads it when packed
    hs = layer.forward(x, LENGTHS)
    dh = rng.standard_normal(hs.shape) * length_mask(LENGTHS, 6)[:, :, None]
    dx = layer.backward(dh)

    xt = torch.tensor(x, requires_grad=True)
    out, h_n = run_packed(module, xt, LENGTHS)
    np.testing.assert_allclose(out.detach().numpy(), hs, atol=1e-12, rtol=0)
    final = layer.final_states(hs, LENGTHS)  # (batch, 2H) = [h_n[0] ; h_n[1]]
    np.testing.assert_allclose(torch.cat([h_n[0], h_n[1]], dim=1).detach().numpy(), final, atol=1e-12, rtol=0)

    (out * torch.tensor(dh)).sum().backward()
    np.testing.assert_allclose(xt.grad.numpy(), dx, atol=1e-12, rtol=0)
    directions = (("forward.", "", layer.forward_layer), ("backward.", "_reverse", layer.backward_layer))
    for prefix, suffix, one_way in directions:
        single = to_torch(one_way)  # a one-way module to read the gradients under NumPy names
        for name, p in single.named_parameters():
            p.grad = getattr(module, name + suffix).grad.clone()
        for name, g in torch_grads(single).items():
            np.testing.assert_allclose(g, layer.grads[prefix + name], atol=1e-12, rtol=0, err_msg=prefix + name)


def test_bad_input_is_named():
    layer = Bidirectional(GRU, 3, 4, rng=0)
    with pytest.raises(ValueError, match="between 1 and T"):
        layer.forward(np.zeros((2, 5, 3)), [5, 6])
    with pytest.raises(ValueError, match="input_size"):
        layer.forward(np.zeros((2, 5, 4)))
    with pytest.raises(ValueError, match="NaN"):
        layer.forward(np.full((2, 5, 3), np.nan))
    with pytest.raises(RuntimeError, match="before forward"):
        Bidirectional(GRU, 3, 4).backward(np.zeros((2, 5, 8)))
    layer.forward(np.zeros((2, 5, 3)))
    with pytest.raises(ValueError, match=r"\(batch, T, 2H\)"):
        layer.backward(np.zeros((2, 5, 4)))
    with pytest.raises(TypeError, match="cell"):
        Bidirectional(nn.GRU, 3, 4)
    with pytest.raises(TypeError, match="same cell"):
        Bidirectional.from_layers(GRU(3, 4), LSTM(3, 4))
    with pytest.raises(ValueError, match="same input_size"):
        Bidirectional.from_layers(GRU(3, 4), GRU(3, 5))


# ------------------------------------------------------------------ the model API's bidirectional encoder
def bidirectional_from_torch(module) -> Bidirectional:
    """A NumPy Bidirectional with the weights of a one-layer nn.LSTM/GRU(bidirectional=True)."""
    directions = []
    for suffix in ("", "_reverse"):
        one_way = type(module)(module.input_size, module.hidden_size, batch_first=True, dtype=torch.float64)
        with torch.no_grad():
            for name, p in one_way.named_parameters():
                p.copy_(getattr(module, name + suffix))
        directions.append(from_torch(one_way))
    return Bidirectional.from_layers(*directions)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("bridge", ["linear", "sum", "backward"])
def test_the_model_encoder_is_this_layer(cell, bridge):
    """utils.Seq2Seq(bidirectional=True): memory = the NumPy layer over the embedded source, and
    the bridge combines the NumPy layer's final states as ModelConfig documents.

    Read through the documented API only: ``model.encoder_layers`` (a forward pre-hook records
    what the RNN reads, the embedded source) and ``model.encode`` (memory and the decoder's first
    state); the linear bridge's weights are not read but recovered by least squares, which also
    proves s_0 is tanh of an affine function of [fwd h_T ; bwd h_1]."""
    import utils

    words = ["cite", "phones", "a", "cape", "cell", "ice", "pea", "hope", "ape", "tic", "once", "spice",
             "nice", "place"]  # more rows than the linear bridge's 2 H_enc + 1 unknowns per output
    vocab = utils.Vocab.build(words)
    torch.manual_seed(0)
    encoder_size = 2 if bridge == "linear" else 4  # sum and backward need H_enc = H_dec
    config = utils.ModelConfig(cell=cell, embed_size=3, hidden_size=4, encoder_hidden_size=encoder_size,
                               bidirectional=True, bridge=bridge, attention="luong-general")
    model = utils.Seq2Seq(vocab, vocab, config).double().eval()
    (rnn,) = model.encoder_layers
    seen = []
    hook = rnn.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    src_ids, src_lengths = model.encode_sources(words)  # (batch, src_len), (batch,)
    with torch.no_grad():
        memory, state = model.encode(src_ids, src_lengths)  # (batch, src_len, 2 H_enc), the decoder's start
    hook.remove()
    embedded, _ = pad_packed_sequence(seen[0], batch_first=True, total_length=src_ids.shape[1])  # (batch, S, E)
    layer = bidirectional_from_torch(rnn)
    lengths = src_lengths.numpy()
    hs = layer.forward(embedded.numpy(), lengths)  # (batch, src_len, 2 H_enc)
    np.testing.assert_allclose(memory.numpy(), hs, atol=1e-12)
    final = layer.final_states(hs, lengths)  # (batch, 2 H_enc): [forward h_T ; backward h_1]
    H = layer.hidden_size
    h0 = (state.rnn[0] if cell == "lstm" else state.rnn)[0].numpy()  # (batch, H_dec): the decoder's first h
    if bridge == "sum":
        np.testing.assert_allclose(h0, final[:, :H] + final[:, H:], atol=1e-12)
    elif bridge == "backward":
        np.testing.assert_allclose(h0, final[:, H:], atol=1e-12)
    else:
        inputs = np.concatenate([final, np.ones((len(words), 1))], axis=1)  # (batch, 2 H_enc + 1)
        fit, *_ = np.linalg.lstsq(inputs, np.arctanh(h0), rcond=None)  # (2 H_enc + 1, H_dec)
        np.testing.assert_allclose(inputs @ fit, np.arctanh(h0), atol=1e-9)  # exactly affine, then tanh
        kinds = 2 if cell == "lstm" else 1  # an LSTM's c_0 gets its own W_c (from the final cell states)
        zeros = utils.Seq2Seq(vocab, vocab, config.replace(bridge="zeros"))
        assert model.num_parameters() - zeros.num_parameters() == kinds * (2 * H + 1) * config.hidden_size


# ------------------------------------------------------------------ chapter 06's claims on seeds 1 and 2
# The notebook asserts seed 0; these tests run the same experiments, with the same settings and
# measurements (keep them in sync with chapters/06_bidirectional_encoders.py, section 6), on seeds
# 1 and 2 and assert the same claims with the same margins.
import utils  # noqa: E402  (the experiments need the model API; the layer tests above do not)

FORWARD_ONLY = dict(hidden_size=64)
BIDIRECTIONAL = dict(hidden_size=64, bidirectional=True, encoder_hidden_size=32)
ENCODERS = {"forward only": FORWARD_ONLY, "bidirectional": BIDIRECTIONAL}
FIELD_ROWS = {"year": [0, 1, 2, 3], "month": [5, 6], "day": [8, 9]}


def parameter_gap(models):
    counts = [model.num_parameters() for model in models.values()]
    return (max(counts) - min(counts)) / min(counts)


def true_characters(example):
    pairs = []
    for field, rows in FIELD_ROWS.items():
        start, end = example.spans[field]
        written = example.source[start:end]
        if written.isascii() and written.isdigit():
            skipped = len(rows) - len(written)
            pairs += [(row, start + k - skipped) for k, row in enumerate(rows) if k >= skipped]
    return pairs


@pytest.mark.parametrize("seed", [1, 2])
def test_sweep_as_written_bidirectional_lifts_the_long_end(seed):
    settings = dict(n_train=4000, n_test=100, epochs=6, batch_size=32, lr=5e-3, cell="lstm", seed=seed)
    lengths = list(range(2, 21, 2))
    models, curves = {}, {}
    for name, encoder in ENCODERS.items():
        models[name], curves[name] = utils.length_sweep("reverse", lengths, attention="dot", progress=False,
                                                        verbose=False, **settings, **encoder)
    forward, bidirectional = curves["forward only"], curves["bidirectional"]
    assert parameter_gap(models) < 0.01
    assert min(forward[n] for n in lengths if n <= 10) >= 0.85
    assert forward[20] <= 0.5
    assert min(bidirectional[n] for n in lengths if n <= 10) >= 0.8
    assert bidirectional[20] >= forward[20] + 0.15, (forward, bidirectional)
    assert np.mean([bidirectional[n] - forward[n] for n in (16, 18, 20)]) >= 0.12
    assert bidirectional[20] <= 0.75
    # How the 20-letter outputs go wrong (the notebook's 200 fresh strings).
    long_pairs = utils.make_task("reverse", 200, min_len=20, max_len=20, seed=2024)
    wrong_letter, wrong_length = {}, {}
    for name, model in models.items():
        predictions = model.translate_batch([source for source, _ in long_pairs])
        right = np.mean([p == t for p, (_, t) in zip(predictions, long_pairs)])
        wrong_length[name] = np.mean([len(p) != len(t) for p, (_, t) in zip(predictions, long_pairs)])
        wrong_letter[name] = 1 - right - wrong_length[name]
    print(f"\nseed {seed} sweep at 20: {forward[20]:.2f} -> {bidirectional[20]:.2f}; wrong letter "
          f"{wrong_letter['forward only']:.2f} -> {wrong_letter['bidirectional']:.2f}; wrong length "
          f"{wrong_length['forward only']:.2f} -> {wrong_length['bidirectional']:.2f}")
    assert wrong_letter["forward only"] > wrong_length["forward only"], (wrong_letter, wrong_length)
    assert wrong_letter["bidirectional"] <= wrong_letter["forward only"] - 0.3, wrong_letter
    assert wrong_length["bidirectional"] >= wrong_length["forward only"] + 0.05, wrong_length
    assert wrong_length["bidirectional"] > wrong_letter["bidirectional"], (wrong_length, wrong_letter)


@pytest.mark.parametrize("seed", [1, 2])
def test_dates_attention_peaks_on_the_digit(seed):
    train = utils.load_dates("train")[:5000]
    examples = utils.load_date_examples("test")
    models = {name: utils.train_seq2seq(train, attention="dot", epochs=3, seed=seed, progress=False, verbose=False,
                                        **encoder) for name, encoder in ENCODERS.items()}
    assert parameter_gap(models) < 0.01
    decoded = {name: model.attention_batch([e.source for e in examples]) for name, model in models.items()}
    accuracy = {name: np.mean(["".join(tokens) == e.target for e, (tokens, _) in zip(examples, runs)])
                for name, runs in decoded.items()}
    assert accuracy["bidirectional"] >= accuracy["forward only"] + 0.05, accuracy
    both_right = [i for i, e in enumerate(examples) if all("".join(decoded[n][i][0]) == e.target for n in ENCODERS)]
    offsets, on_character, on_span = {}, {}, {}
    for name in ENCODERS:
        values, by_locale, span_by_locale = [], {}, {}
        for i in both_right:
            example, weights = examples[i], decoded[name][i][1]
            pairs = true_characters(example)
            values += [int(weights[row].argmax()) - position for row, position in pairs]
            span_by_locale.setdefault(example.locale, []).append(np.mean(
                [share for field, rows in FIELD_ROWS.items()
                 for share in weights[rows, slice(*example.spans[field])].sum(axis=1)]))
            if pairs:
                by_locale.setdefault(example.locale, []).append(np.mean([weights[r, p] for r, p in pairs]))
        offsets[name], on_character[name], on_span[name] = np.array(values), by_locale, span_by_locale
    forward, bidirectional = offsets["forward only"], offsets["bidirectional"]
    assert np.mean(forward == 0) >= 0.5
    assert np.mean(forward == 1) <= np.mean(forward == 0) / 2
    assert np.mean(forward < 0) <= 0.05
    assert np.mean(forward > 0) >= 0.15 and forward.mean() >= 0.2
    assert np.mean(bidirectional == 0) >= 0.85
    assert np.mean(bidirectional == 0) >= np.mean(forward == 0) + 0.08
    assert abs(bidirectional.mean()) <= 0.15
    far_right = {name: [(i, row) for i in both_right for row, position in true_characters(examples[i])
                        if int(decoded[name][i][1][row].argmax()) - position >= 2] for name in ENCODERS}
    on_last = np.mean([int(decoded["forward only"][i][1][row].argmax()) == len(examples[i].source) - 1
                       for i, row in far_right["forward only"]])
    assert len(far_right["forward only"]) >= 2 * len(far_right["bidirectional"]), {k: len(v) for k, v in
                                                                                    far_right.items()}
    assert on_last >= 0.2, on_last
    for locale in on_character["forward only"]:
        assert (np.mean(on_character["bidirectional"][locale])
                >= np.mean(on_character["forward only"][locale]) + 0.05), locale
    gain = {measure: np.mean([np.mean(by["bidirectional"][loc]) - np.mean(by["forward only"][loc])
                              for loc in by["forward only"]])
            for measure, by in (("character", on_character), ("field", on_span))}
    print(f"\nseed {seed} dates: exact {accuracy['forward only']:.3f} -> {accuracy['bidirectional']:.3f}; "
          f"offset 0 {np.mean(forward == 0):.3f} -> {np.mean(bidirectional == 0):.3f}, >0 {np.mean(forward > 0):.3f}, "
          f"<0 {np.mean(forward < 0):.3f}, mean {forward.mean():+.2f} -> {bidirectional.mean():+.2f}; far "
          f"{len(far_right['forward only'])} vs {len(far_right['bidirectional'])}, on last {on_last:.2f}; "
          f"gain character {gain['character']:+.3f} field {gain['field']:+.3f}")
    assert 0 < gain["field"] < gain["character"], gain
    field_gains = {loc: np.mean(on_span["bidirectional"][loc]) - np.mean(on_span["forward only"][loc])
                   for loc in on_span["forward only"]}
    if seed == 2:  # the chapter says the per-locale field rise fails here (en_GB, es_ES, fr_FR, it_IT lose)
        assert min(field_gains.values()) < 0, field_gains
    inside = []
    for i in both_right:
        example, weights = examples[i], decoded["forward only"][i][1]
        for row, position in true_characters(example):
            peak = int(weights[row].argmax())
            if peak > position:
                start, end = next(example.spans[f] for f, rows in FIELD_ROWS.items() if row in rows)
                inside.append(start <= peak < end)
    print(f"seed {seed} inside own field {np.mean(inside):.2f}")
    assert np.mean(inside) >= 0.6, np.mean(inside)


@pytest.mark.parametrize("seed", [1, 2])
def test_g2p_bidirectional_makes_fewer_phoneme_errors(seed):
    words, test = utils.load_cmudict("train"), utils.load_cmudict("test")
    train = [words[i] for i in np.random.default_rng(0).permutation(len(words))[:5000]]  # the notebook's 5,000
    models = {name: utils.train_seq2seq(train, attention="dot", tgt_level="word", epochs=5, seed=seed,
                                        progress=False, verbose=False, **encoder)
              for name, encoder in ENCODERS.items()}
    assert parameter_gap(models) < 0.01
    scores = {}
    for name, model in models.items():
        predictions = model.translate_batch([word for word, _ in test])
        errors = sum(utils.edit_distance(p.split(), t.split()) for p, (_, t) in zip(predictions, test))
        scores[name] = (errors / sum(len(t.split()) for _, t in test),
                        np.mean([p == t for p, (_, t) in zip(predictions, test)]))
    (per_forward, accuracy_forward), (per_bidirectional, accuracy_bidirectional) = scores.values()
    print(f"\nseed {seed} g2p: PER {per_forward:.3f} -> {per_bidirectional:.3f}, word accuracy "
          f"{accuracy_forward:.3f} -> {accuracy_bidirectional:.3f}")
    assert per_bidirectional <= per_forward - 0.03, scores
    assert accuracy_bidirectional >= accuracy_forward + 0.04, scores

"""utils.nn.model / train / experiments: the Seq2Seq API on trained models, padding, the train_seq2seq API."""
import numpy as np
import pytest
import torch

import utils
from utils.experiments import accuracy_by_length, teacher_forcing_accuracy
from utils.nn.decoder import DecoderState, LuongDecoder, PlainDecoder
from utils.nn.encoder import Encoder
from utils.nn.model import Seq2Seq, masked_cross_entropy
from utils.nn.train import make_batches, train_seq2seq
from utils.vocab import Vocab

# A tiny task that trains in about a second: reverse 3-6 letters over a 6-letter alphabet.
_rng = np.random.default_rng(0)
_ALPHA = "abcdef"


def _pairs(n, lo=3, hi=6, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        s = "".join(rng.choice(list(_ALPHA), size=rng.integers(lo, hi + 1)))
        out.append((s, s[::-1]))
    return out


TRAIN = _pairs(1500)
TEST = _pairs(200, seed=1)


@pytest.fixture(scope="module")
def dot_model():
    utils.setup(0)
    return train_seq2seq(TRAIN, "dot", hidden_size=32, epochs=8, batch_size=32, lr=1e-2, progress=False,
                         verbose=False)


@pytest.fixture(scope="module")
def plain_model():
    utils.setup(0)
    return train_seq2seq(TRAIN, None, hidden_size=32, epochs=2, batch_size=32, progress=False, verbose=False)


def _model(attention=None, cell="gru", reverse_source=False, peeky=False):
    torch.manual_seed(0)
    src, tgt = Vocab.build([s for s, _ in TRAIN]), Vocab.build([t for _, t in TRAIN])
    return Seq2Seq(src, tgt, attention=attention, cell=cell, hidden_size=16, embed_size=8,
                   reverse_source=reverse_source, max_output_len=12, peeky=peeky)


# ------------------------------------------------------------------ the API on a trained model
def test_train_seq2seq_with_attention_learns_the_task(dot_model):
    assert utils.exact_match(dot_model, TEST) >= 0.9
    assert all(isinstance(dot_model.translate(s), str) for s, _ in TEST[:5])
    assert dot_model.history.epochs == 8 and dot_model.history.loss[-1] < dot_model.history.loss[0]


def test_translate_batch_equals_translate_one_by_one(dot_model):
    sources = [s for s, _ in TEST[:40]]
    batched = dot_model.translate_batch(sources, batch_size=7)  # several batches, mixed lengths
    assert batched == [dot_model.translate(s) for s in sources]
    assert dot_model.translate_batch([]) == []


def test_attention_batch_equals_attention_one_by_one(dot_model):
    sources = [s for s, _ in TEST[:30]]
    batched = dot_model.attention_batch(sources, batch_size=7)  # several batches, mixed lengths
    assert len(batched) == len(sources)
    for source, (tokens, weights) in zip(sources, batched):
        tokens1, weights1 = dot_model.attention(source)
        assert tokens == tokens1
        np.testing.assert_allclose(weights, weights1, atol=1e-5)
    with pytest.raises(TypeError, match="list of sources"):
        dot_model.attention_batch("abc")
    with pytest.raises(TypeError, match="one source string"):
        dot_model.attention(["abc"])


def test_attention_weights_shape_and_rows(dot_model):
    right = 0
    for source, target in TEST[:20]:
        tokens, weights = dot_model.attention(source)
        assert isinstance(weights, np.ndarray) and weights.shape == (len(tokens), len(source))
        np.testing.assert_allclose(weights.sum(1), 1.0, atol=1e-5)
        assert "".join(tokens) == dot_model.translate(source)  # tokens exclude the end token
        if "".join(tokens) == target:  # reversing: output i should look mostly at source n-1-i
            right += 1
            n = len(source)
            assert (weights.argmax(1) == np.arange(n - 1, -1, -1)).mean() >= 0.5
    assert right >= 15


def test_unknown_characters_and_bad_sources(dot_model):
    out = dot_model.translate("abzzc")  # 'z' never seen: read as <unk>, no crash
    assert isinstance(out, str)
    tokens, weights = dot_model.attention("ab?")
    assert weights.shape == (len(tokens), 3)
    with pytest.raises(ValueError, match="empty"):
        dot_model.translate("")
    with pytest.raises(ValueError, match="empty"):
        dot_model.translate_batch(["abc", ""])
    with pytest.raises(ValueError, match="whitespace-only"):  # as train_seq2seq rejects such pairs
        dot_model.translate("   ")
    with pytest.raises(ValueError, match="whitespace-only"):
        dot_model.translate_batch(["abc", " \t"])
    with pytest.raises(ValueError, match="whitespace-only"):
        dot_model.attention("  ")
    with pytest.raises(TypeError, match="string"):
        dot_model.translate(123)
    with pytest.raises(TypeError, match="list of sources"):
        dot_model.translate_batch("abc")


def test_a_source_with_no_known_symbol_warns_and_names_them(dot_model):
    with pytest.warns(UserWarning, match=r"none of the source's symbols.*'#', 'z'"):
        out = dot_model.translate("zz#")
    assert isinstance(out, str)
    with pytest.warns(UserWarning, match="<unk>"):
        dot_model.translate_batch(["abc", "??"])
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a partly known source is read without a warning
        dot_model.translate("abzzc")


def test_one_default_per_setting():
    """Seq2Seq and train_seq2seq build the same model when given nothing: the defaults live in ModelConfig."""
    src = Vocab.build(["abc"])
    model = Seq2Seq(src, src)
    assert model.config == utils.ModelConfig()
    assert isinstance(model.encoder_layers[0], torch.nn.LSTM) and isinstance(model.decoder_layers[0], torch.nn.LSTM)
    trained = train_seq2seq([("abc", "cba")], epochs=1, progress=False, verbose=False)
    assert trained.config == utils.ModelConfig()
    fresh = Seq2Seq(trained.src_vocab, trained.tgt_vocab)
    assert trained.num_parameters() == sum(p.numel() for p in fresh.parameters())


def test_plain_model_has_no_attention(plain_model):
    with pytest.raises(ValueError, match="no attention"):
        plain_model.attention("abc")
    assert isinstance(plain_model.translate("abc"), str)


def test_exposure_bias_helpers(plain_model):
    acc = teacher_forcing_accuracy(plain_model, TEST)
    assert set(acc) == {"teacher_forced", "free_running"}
    targets = [list(t) for _, t in TEST]
    free = [list(p) for p in plain_model.translate_batch([s for s, _ in TEST])]
    assert acc["free_running"] == pytest.approx(utils.token_accuracy(free, targets))
    # Fed the true prefix, the model gets at least as many tokens right as when it feeds back
    # its own (possibly wrong) predictions.
    assert acc["teacher_forced"] >= acc["free_running"]
    # Exact match is the same in both modes under greedy decoding.
    targets = [list(t) for _, t in TEST]
    tf_exact = utils.exact_match(plain_model.teacher_forced_tokens(TEST), targets)
    assert tf_exact == pytest.approx(utils.exact_match(plain_model, TEST))


def test_teacher_forced_tokens_mark_a_missing_end():
    model = _model()
    with torch.no_grad():  # make the model always predict 'a' (never </s>)
        model.decoder.out.weight.zero_()
        model.decoder.out.bias.fill_(-10.0)
        model.decoder.out.bias[model.tgt_vocab.stoi["a"]] = 10.0
    tokens = model.teacher_forced_tokens([("abc", "aaa")])[0]
    assert tokens == ["a", "a", "a", "a"]  # the 4th 'a' is where </s> should have been
    assert utils.exact_match([tokens], [list("aaa")]) == 0.0
    # free running never stops: capped by max_output_len
    assert model.translate("abc") == "a" * 12
    assert model.translate("abc", max_len=3) == "aaa"


def test_accuracy_by_length(dot_model):
    acc = accuracy_by_length(dot_model, TEST)
    assert sorted(acc) == [3, 4, 5, 6]
    for n, value in acc.items():
        assert value == pytest.approx(utils.exact_match(dot_model, [p for p in TEST if len(p[0]) == n]))
    counts = {n: sum(len(s) == n for s, _ in TEST) for n in acc}
    overall = sum(acc[n] * counts[n] for n in acc) / len(TEST)
    assert overall == pytest.approx(utils.exact_match(dot_model, TEST))


def test_train_seq2seq_early_stop_and_reproducible():
    kwargs = dict(hidden_size=16, epochs=6, batch_size=64, lr=1e-2, progress=False, verbose=False)
    a = train_seq2seq(TRAIN[:300], "dot", valid_pairs=TEST[:50], target=0.0, **kwargs)
    assert a.history.epochs == 1 and a.history.stopped_early
    b = train_seq2seq(TRAIN[:300], "dot", valid_pairs=TEST[:50], target=0.0, **kwargs)
    assert a.history.loss == b.history.loss  # same seed, same run
    c = train_seq2seq(TRAIN[:300], "dot", valid_pairs=TEST[:50], target=0.0, seed=1, **kwargs)
    assert c.history.loss != a.history.loss


def test_train_seq2seq_bad_arguments():
    with pytest.raises(ValueError, match="empty"):
        train_seq2seq([])
    with pytest.raises(ValueError, match="pair"):
        train_seq2seq([("abc",)])
    with pytest.raises(ValueError, match="empty source or target"):
        train_seq2seq([("abc", "")])
    with pytest.raises(TypeError, match="two strings"):
        train_seq2seq([("abc", 3)])
    with pytest.raises(ValueError, match="valid_pairs"):
        train_seq2seq(TRAIN[:10], target=0.9)
    with pytest.raises(ValueError, match="unknown attention 'dott'"):
        train_seq2seq(TRAIN[:10], "dott", epochs=1)
    with pytest.raises(TypeError, match="unknown setting"):
        train_seq2seq(TRAIN[:10], hiden_size=8)
    with pytest.raises(ValueError, match="cell"):
        train_seq2seq(TRAIN[:10], cell="rnn", epochs=1)
    with pytest.raises(ValueError, match="epochs"):
        train_seq2seq(TRAIN[:10], epochs=0)


# ------------------------------------------------------------------ padding and masking
@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_encoder_last_state_ignores_padding(cell):
    torch.manual_seed(0)
    enc = Encoder(10, 4, 6, cell=cell)
    ids = torch.tensor([[4, 5, 6]])
    padded = torch.tensor([[4, 5, 6, 0, 0], [7, 8, 0, 0, 0]])
    mem1, state1 = enc(ids, torch.tensor([3]))
    mem2, state2 = enc(padded, torch.tensor([3, 2]))
    h1 = state1[0] if cell == "lstm" else state1
    h2 = state2[0] if cell == "lstm" else state2
    torch.testing.assert_close(h2[:, :1], h1)
    torch.testing.assert_close(mem2[:1, :3], mem1)
    assert mem2.shape == (2, 5, 6) and (mem2[1, 2:] == 0).all()


def test_masked_cross_entropy_ignores_pads():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 7, generator=g)
    targets = torch.tensor([[4, 5, 2], [6, 2, 0]])
    expected = -torch.log_softmax(logits, -1).gather(-1, targets[..., None])[..., 0][targets != 0].mean()
    torch.testing.assert_close(masked_cross_entropy(logits, targets), expected)
    # more padding (junk logits at pad positions) leaves the loss unchanged
    more = torch.cat([logits, 50 * torch.randn(2, 4, 7, generator=g)], 1)
    torch.testing.assert_close(masked_cross_entropy(more, torch.cat([targets, torch.zeros(2, 4, dtype=torch.long)], 1)),
                               expected)
    with pytest.raises(ValueError, match="do not match"):
        masked_cross_entropy(logits, targets[:, :2])
    with pytest.raises(ValueError, match="padding"):
        masked_cross_entropy(logits, torch.zeros(2, 3, dtype=torch.long))


@pytest.mark.parametrize("attention", [None, "dot"])
@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_loss_and_decoding_do_not_depend_on_batch_padding(attention, cell):
    """A pair's loss, prediction and attention are the same alone or next to a longer pair."""
    model = _model(attention, cell).eval()
    short, long_ = ("abc", "cba"), ("abcdefabcdef", "fedcbafedcba")
    alone = model.make_batch([short])
    both = model.make_batch([short, long_])
    with torch.no_grad():
        logits_alone, w_alone = model(alone.src_ids, alone.src_lengths, alone.tgt_in)
        logits_both, w_both = model(both.src_ids, both.src_lengths, both.tgt_in)
    torch.testing.assert_close(logits_both[:1, :4], logits_alone, atol=1e-6, rtol=1e-5)
    if attention:
        torch.testing.assert_close(w_both[:1, :4, :3], w_alone, atol=1e-6, rtol=1e-5)
        assert (w_both[0, :, 3:] == 0).all()  # no weight on the short source's padding
    assert model.translate_batch(["abc", "abcdefabcdef"]) == [model.translate("abc"), model.translate("abcdefabcdef")]


def test_decoders_interface_shapes():
    torch.manual_seed(0)
    memory = torch.randn(2, 5, 6)
    mask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
    lengths = mask.sum(1)
    zeros = torch.zeros(1, 2, 6)
    tgt_in = torch.tensor([[1, 4, 5], [1, 6, 0]])
    out = PlainDecoder(9, 4, 6, cell="gru")(tgt_in, DecoderState(zeros, None, None, lengths))
    assert out.logits.shape == (2, 3, 9) and out.state.rnn.shape == (1, 2, 6) and out.weights is None
    assert out.state.step == 3 and out.states.shape == (2, 3, 6)
    out = PlainDecoder(9, 4, 6)(tgt_in, DecoderState((zeros, zeros), None, None, lengths))  # LSTM: state (h, c)
    h, c = out.state.rnn
    assert out.logits.shape == (2, 3, 9) and h.shape == c.shape == (1, 2, 6)
    config = utils.ATTENTION_PRESETS["dot"]
    out = LuongDecoder(9, 4, 6, 6, config, cell="gru")(tgt_in, DecoderState(zeros, memory, mask, lengths))
    assert out.logits.shape == (2, 3, 9) and out.weights.shape == (2, 3, 5) and out.contexts.shape == (2, 3, 6)
    torch.testing.assert_close(out.weights.sum(-1), torch.ones(2, 3))
    assert (out.weights[1, :, 3:] == 0).all()


@pytest.mark.parametrize("attention", [None, "peeky", "dot", "bahdanau", "luong-general", "local-m", "local-p",
                                       utils.AttentionConfig(score="additive", input_feeding=True)])
def test_step_by_step_decoding_equals_teacher_forcing(attention):
    """Running the decoder one step at a time gives the same logits as all steps at once."""
    model = _model(attention).eval() if attention != "peeky" else _model(None, peeky=True).eval()
    batch = model.make_batch([("abcd", "dcba"), ("ab", "ba")])
    with torch.no_grad():
        logits, _ = model(batch.src_ids, batch.src_lengths, batch.tgt_in)
        _, state = model.encode(batch.src_ids, batch.src_lengths)
        steps = []
        for t in range(batch.tgt_in.shape[1]):
            out = model.decoder(batch.tgt_in[:, t:t + 1], state)
            state = out.state
            steps.append(out.logits)
    torch.testing.assert_close(torch.cat(steps, 1), logits, atol=1e-6, rtol=1e-5)


def test_reverse_source_feeds_the_encoder_backwards_and_keeps_weight_order():
    model = _model("dot", reverse_source=True).eval()
    ids, _ = model.encode_sources(["abc"])
    assert ids[0].tolist() == model.src_vocab.encode("cba")
    tokens, w = model.attention("abcd")
    plain = _model("dot").eval()
    plain.load_state_dict(model.state_dict())
    # the reversed model reading "abcd" is the plain model reading "dcba", weights flipped back
    tokens2, w2 = plain.attention("dcba")
    assert tokens == tokens2
    np.testing.assert_allclose(w, w2[:, ::-1], atol=1e-6)


def test_make_batches_cover_every_pair_once_per_epoch():
    model = _model()
    batches = make_batches(model, TRAIN[:100], batch_size=16, seed=0)
    epoch0, epoch1 = batches(0), batches(1)
    assert sum(len(b) for b in epoch0) == 100
    assert all(len(b) <= 16 for b in epoch0)
    for b in epoch0:  # each batch trimmed to its longest member
        assert b.src_lengths.max() == b.src_ids.shape[1]
        assert (b.tgt_out != 0).sum(1).max() == b.tgt_out.shape[1]
        assert (b.tgt_in[:, 0] == Vocab.bos_id).all()
    assert [b.src_ids.tolist() for b in epoch0] != [b.src_ids.tolist() for b in epoch1]  # reshuffled
    assert [b.src_ids.tolist() for b in batches(0)] == [b.src_ids.tolist() for b in epoch0]  # reproducible
    with pytest.raises(ValueError, match="batch_size"):
        make_batches(model, TRAIN[:10], batch_size=0)


def test_attention_backward_has_no_nan_with_padding():
    model = _model("dot")
    batch = model.make_batch([("a", "a"), ("abcdef", "fedcba")])
    loss = model.loss(batch)
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_length_sweep_small():
    model, acc = utils.length_sweep("reverse", [3, 2, 4], hidden_size=8, n_train=60, n_test=5, epochs=1,
                                    progress=False, verbose=False)
    assert isinstance(model, Seq2Seq) and model.config.attention is None and model.config.hidden_size == 8
    assert sorted(acc) == [2, 3, 4]
    assert model.history.epochs == 1
    _, acc = utils.length_sweep("reverse", [5], hidden_size=8, n_train=20, n_test=5, epochs=1, distinct=True,
                                progress=False, verbose=False)
    assert list(acc) == [5]
    with pytest.raises(ValueError, match="lengths"):
        utils.length_sweep("reverse", [], n_train=10)
    with pytest.raises(ValueError, match="lengths"):
        utils.length_sweep("reverse", [0, 3], n_train=10)
    with pytest.raises(ValueError, match="n_test"):
        utils.length_sweep("reverse", [3], n_train=10, n_test=0)

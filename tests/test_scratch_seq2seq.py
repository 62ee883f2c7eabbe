"""The NumPy seq2seq of chapter 02 (utils/scratch/seq2seq.py): gradients, parity with utils.Seq2Seq."""
import numpy as np
import pytest
import torch

import utils
from utils.scratch.gradcheck import gradient_check, relative_error
from utils.scratch.seq2seq import (
    Seq2Seq,
    TimeEmbedding,
    TimeLSTM,
    TimeSoftmaxWithLoss,
    encode_pairs,
    to_torch,
    torch_grads,
    train,
)

PAIRS = [("dog", "god"), ("hello", "olleh"), ("ab", "ba"), ("zebra", "arbez")]


def _vocabs(pairs=PAIRS):
    return utils.Vocab.build([s for s, _ in pairs]), utils.Vocab.build([t for _, t in pairs])


def _model(peeky=False, seed=0, pairs=PAIRS):
    src_vocab, tgt_vocab = _vocabs(pairs)
    return Seq2Seq(len(src_vocab), len(tgt_vocab), embed_size=4, hidden_size=5, peeky=peeky, seed=seed), src_vocab, \
        tgt_vocab


@pytest.mark.parametrize("peeky", [False, True])
def test_gradient_check_of_the_whole_model(peeky):
    model, src_vocab, tgt_vocab = _model(peeky)
    arrays = encode_pairs(PAIRS, src_vocab, tgt_vocab)
    model.forward(*arrays)
    model.backward()
    errors = gradient_check(lambda: model.forward(*arrays), model.params, model.grads, eps=1e-5)
    assert max(errors.values()) < 1e-6, errors
    assert len(errors) == 2 + 12 + 12 + 2  # two embeddings, two LSTMs of 12 arrays, the affine layer


def test_a_wrong_backward_fails_the_check():
    """The check can fail: drop the cell-state gradient the decoder sends to the encoder."""
    model, src_vocab, tgt_vocab = _model()
    arrays = encode_pairs(PAIRS, src_vocab, tgt_vocab)
    model.forward(*arrays)
    dh_T, _ = model.decoder.backward(model.loss_layer.backward())
    model.encoder.backward(dh_T, np.zeros_like(dh_T))  # forgets dL/dc_T
    errors = gradient_check(lambda: model.forward(*arrays), model.params, model.grads, eps=1e-5)
    assert errors["encoder.lstm.W_xg"] > 1e-3


def test_padding_changes_nothing():
    model, src_vocab, tgt_vocab = _model()
    src_ids, src_lengths, tgt_in, tgt_out = encode_pairs(PAIRS, src_vocab, tgt_vocab)
    loss = model.forward(src_ids, src_lengths, tgt_in, tgt_out)
    more = [np.pad(a, ((0, 0), (0, 3))) for a in (src_ids, tgt_in, tgt_out)]  # three more pad columns
    assert model.forward(more[0], src_lengths, more[1], more[2]) == pytest.approx(loss, abs=1e-12)
    model.backward()
    assert not model.grads["encoder.embedding.W"][0].any() and not model.grads["decoder.embedding.W"][0].any()


@pytest.mark.parametrize("peeky", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_equals_the_torch_model_on_the_same_weights(peeky, seed):
    model, src_vocab, tgt_vocab = _model(peeky, seed)
    net = to_torch(model, src_vocab, tgt_vocab)
    assert isinstance(net, utils.Seq2Seq) and net.config.attention is None and net.config.peeky == peeky
    # torch's LSTM adds two bias vectors b_ih + b_hh (4 * hidden each) where the NumPy LSTM has one
    assert net.num_parameters() == model.num_parameters() + 2 * 4 * model.hidden_size
    arrays = encode_pairs(PAIRS, src_vocab, tgt_vocab)
    loss = model.forward(*arrays)
    model.backward()
    net.train()
    torch_loss = net.loss(net.make_batch(PAIRS))
    torch_loss.backward()
    assert torch_loss.item() == pytest.approx(loss, abs=1e-12)
    theirs = torch_grads(net)
    assert set(theirs) == set(model.grads)
    for name, grad in model.grads.items():
        assert relative_error(grad, theirs[name]) < 1e-10, name
    # logits through the documented view of the torch model
    logits = model.logits(*arrays[:3])  # (batch, T, vocab)
    traces = net.trace([s for s, _ in PAIRS], [t for _, t in PAIRS])
    for row, trace in enumerate(traces):
        np.testing.assert_allclose(trace.logits, logits[row, :len(trace.logits)], atol=1e-12)


def test_greedy_decoding_matches_translate():
    model, src_vocab, tgt_vocab = _model(seed=3)
    net = to_torch(model, src_vocab, tgt_vocab)
    src_ids, src_lengths, _, _ = encode_pairs(PAIRS, src_vocab, tgt_vocab)
    ids = model.generate(src_ids, src_lengths, max_len=8)
    assert [tgt_vocab.decode(row) for row in ids] == net.translate_batch([s for s, _ in PAIRS], max_len=8)


def test_a_few_seconds_of_numpy_training_learn_to_reverse():
    pairs = utils.make_task("reverse", 500, min_len=2, max_len=4, seed=0)
    src_vocab, tgt_vocab = _vocabs(pairs)
    model = Seq2Seq(len(src_vocab), len(tgt_vocab), embed_size=16, hidden_size=32, seed=0)
    losses = train(model, pairs, src_vocab, tgt_vocab, seconds=60, max_steps=300, lr=0.01)
    assert len(losses) == 300 and np.mean(losses[-20:]) < 0.5 * np.mean(losses[:20])


def test_bad_input_is_named():
    model, src_vocab, tgt_vocab = _model()
    src_ids, src_lengths, tgt_in, tgt_out = encode_pairs(PAIRS, src_vocab, tgt_vocab)
    with pytest.raises(ValueError, match="src_lengths"):
        model.forward(src_ids, src_lengths + 10, tgt_in, tgt_out)
    with pytest.raises(ValueError, match="outside"):
        model.forward(src_ids + 100, src_lengths, tgt_in, tgt_out)
    with pytest.raises(TypeError, match="torch tensor"):
        TimeEmbedding(5, 2).forward(torch.zeros(1, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="every target is padding"):
        TimeSoftmaxWithLoss().forward(np.zeros((1, 2, 3)), np.zeros((1, 2), dtype=int))
    with pytest.raises(ValueError, match="dc must have the shape"):
        lstm = TimeLSTM(2, 3)
        lstm.forward(np.zeros((1, 4, 2)))
        lstm.backward(np.zeros((1, 4, 3)), np.zeros((1, 3)))
    bigger = Seq2Seq(len(src_vocab) + 1, len(tgt_vocab), embed_size=4, hidden_size=5)
    with pytest.raises(ValueError, match="vocabularies differ"):
        to_torch(bigger, src_vocab, tgt_vocab)
    net = to_torch(model, src_vocab, tgt_vocab)
    with pytest.raises(ValueError, match="loss.backward"):
        torch_grads(net)


# ------------------------------------------------------------------ the exercise's checker
def test_context_gradient_reference_is_what_the_encoder_does():
    from utils.checkers.seq2seq_scratch import reference_context_gradient

    model, src_vocab, tgt_vocab = _model()
    src_ids, src_lengths, _, _ = encode_pairs(PAIRS, src_vocab, tgt_vocab)
    model.encoder.forward(src_ids, src_lengths)
    rng = np.random.default_rng(0)
    dh_T, dc_T = rng.normal(size=(len(PAIRS), 5)), rng.normal(size=(len(PAIRS), 5))
    dh, dc = reference_context_gradient(dh_T, dc_T, src_lengths, src_ids.shape[1])
    model.encoder.backward(dh_T, dc_T)
    grads = {k: v.copy() for k, v in model.encoder.lstm.grads.items()}
    model.encoder.lstm.backward(dh, dc)
    for name, grad in grads.items():
        np.testing.assert_allclose(model.encoder.lstm.grads[name], grad)


def test_context_gradient_checker_accepts_the_reference_and_names_mistakes(capsys):
    from utils.checkers.core import CheckFailed
    from utils.checkers.seq2seq_scratch import check_context_gradient, reference_context_gradient

    check_context_gradient(reference_context_gradient)
    assert "pass" in capsys.readouterr().out

    def last_column(dh_T, dc_T, src_lengths, src_len):
        dh = np.zeros((len(dh_T), src_len, dh_T.shape[1]))
        dc = np.zeros_like(dh)
        dh[:, -1], dc[:, -1] = dh_T, dc_T
        return dh, dc

    def off_by_one(dh_T, dc_T, src_lengths, src_len):
        dh = np.zeros((len(dh_T), src_len, dh_T.shape[1]))
        dc = np.zeros_like(dh)
        for b, n in enumerate(src_lengths):
            if n < src_len:
                dh[b, n], dc[b, n] = dh_T[b], dc_T[b]
        return dh, dc

    def no_cell(dh_T, dc_T, src_lengths, src_len):
        dh, dc = reference_context_gradient(dh_T, dc_T, src_lengths, src_len)
        return dh, np.zeros_like(dc)

    def swapped(dh_T, dc_T, src_lengths, src_len):
        return reference_context_gradient(dh_T, dc_T, src_lengths, src_len)[::-1]

    for wrong, says in ((last_column, "own last real token"), (off_by_one, "off by one"), (no_cell, "c_T"),
                        (swapped, "swapped")):
        with pytest.raises(CheckFailed, match=says):
            check_context_gradient(wrong)

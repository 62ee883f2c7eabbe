"""Chapter 02 checkers accept the reference and reject plausible wrong answers, saying why."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from utils.checkers.core import CheckFailed
from utils.checkers.seq2seq import (
    check_greedy_decode,
    check_masked_cross_entropy,
    reference_greedy_decode,
    reference_masked_cross_entropy,
)


# ------------------------------------------------------------------ masked cross-entropy
def test_reference_loss_matches_torch_ignore_index():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 4, 6))
    targets = np.array([[1, 2, 0, 0], [3, 3, 3, 0], [5, 0, 0, 0]])
    expected = F.cross_entropy(torch.tensor(logits).reshape(-1, 6), torch.tensor(targets).reshape(-1), ignore_index=0)
    assert reference_masked_cross_entropy(logits, targets, 0) == pytest.approx(expected.item())


def test_loss_checker_accepts_reference_and_torch_version(capsys):
    check_masked_cross_entropy(reference_masked_cross_entropy)

    def torch_version(logits, targets, pad_id):
        logits, targets = torch.tensor(logits), torch.tensor(targets)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=pad_id)

    check_masked_cross_entropy(torch_version)
    assert "all 4 cases pass" in capsys.readouterr().out


def _nll(logits, targets):
    z = logits - logits.max(-1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(-1, keepdims=True))
    return -np.take_along_axis(log_p, targets[..., None], -1)[..., 0]


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda lo, t, p: _nll(lo, t).mean(), "pads included"),
        (lambda lo, t, p: (_nll(lo, t) * (t != p)).sum() / t.size, "still counted"),
        (lambda lo, t, p: _nll(lo, t)[t != p].sum() / len(t), "per \\*sequence\\*"),
        (lambda lo, t, p: _nll(lo, t)[t != 0].mean(), "pad_id argument"),
        (lambda lo, t, p: float(-np.log(np.exp(lo) / np.exp(lo).sum(-1, keepdims=True))[
            np.arange(t.shape[0])[:, None], np.arange(t.shape[1]), t][t != p].mean()), "overflow|maximum"),
        (lambda lo, t, p: np.mean([_nll(lo, t)[i][t[i] != p].mean() for i in range(len(t))]),
         "mean of each sequence's mean"),
        (lambda lo, t, p: -np.take_along_axis(lo, t[..., None], -1)[..., 0][t != p].mean(),
         "raw logits as log-probabilities"),
        (lambda lo, t, p: -np.take_along_axis(np.exp(lo - lo.max(-1, keepdims=True)) / np.exp(
            lo - lo.max(-1, keepdims=True)).sum(-1, keepdims=True), t[..., None], -1)[..., 0][t != p].mean(),
         "never negative"),
    ],
    ids=["pads-in-mean", "pads-in-denominator", "per-sequence", "hard-coded-pad-0", "unstable-softmax",
         "mean-of-row-means", "no-log-softmax", "probability-not-log"],
)
def test_loss_checker_rejects_wrong_versions(wrong, message):
    with np.errstate(all="ignore"):
        with pytest.raises(CheckFailed, match=message):
            check_masked_cross_entropy(wrong)


def test_loss_checker_reports_not_implemented_and_wrong_shape():
    def todo(logits, targets, pad_id):
        raise NotImplementedError

    with pytest.raises(CheckFailed, match="not implemented"):
        check_masked_cross_entropy(todo)
    with pytest.raises(CheckFailed, match="one number"):
        check_masked_cross_entropy(lambda lo, t, p: _nll(lo, t))

    def crashes(logits, targets, pad_id):
        raise IndexError("index 9 is out of bounds")

    with pytest.raises(CheckFailed, match="raised IndexError: index 9"):  # not a crash inside the checker
        check_masked_cross_entropy(crashes)


# ------------------------------------------------------------------ greedy decoding
def test_greedy_checker_accepts_reference(capsys):
    check_greedy_decode(reference_greedy_decode)
    assert "all 4 cases pass" in capsys.readouterr().out


def _decode(step, state, batch_size, bos_id, eos_id, pad_id, max_len, *, feed="prediction", pad_after_end=True,
            stop_when_done=True, keep_bos=False):
    """The reference with one switch flipped at a time: the usual mistakes."""
    tokens = np.full(batch_size, bos_id)
    finished = np.zeros(batch_size, dtype=bool)
    outputs = [np.full(batch_size, bos_id)] if keep_bos else []
    for _ in range(max_len):
        logits, state = step(tokens, state)
        predicted = np.asarray(logits).argmax(-1)
        if pad_after_end:
            predicted = np.where(finished, pad_id, predicted)
        outputs.append(predicted)
        finished |= predicted == eos_id
        tokens = predicted if feed == "prediction" else np.full(batch_size, bos_id)
        if stop_when_done and finished.all():
            break
    return np.stack(outputs, 1)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(feed="bos"), "previous \\*prediction\\*"),
        (dict(pad_after_end=False), "must be pad"),
        (dict(stop_when_done=False), "kept decoding"),
        (dict(keep_bos=True), "should not start with <s>"),
    ],
    ids=["feeds-bos", "no-pad-after-end", "never-stops-early", "keeps-bos"],
)
def test_greedy_checker_rejects_wrong_versions(kwargs, message):
    def wrong(*args):
        return _decode(*args, **kwargs)

    with pytest.raises(CheckFailed, match=message):
        check_greedy_decode(wrong)


def test_greedy_checker_catches_a_loop_that_ignores_max_len():
    def unbounded(step, state, batch_size, bos_id, eos_id, pad_id, max_len):
        return reference_greedy_decode(step, state, batch_size, bos_id, eos_id, pad_id, max_len + 5)

    with pytest.raises(CheckFailed, match="more than max_len"):
        check_greedy_decode(unbounded)


def test_greedy_checker_wrong_axis():
    def wrong_axis(step, state, batch_size, bos_id, eos_id, pad_id, max_len):
        def transposed(tokens, state):
            logits, state = step(tokens, state)
            return np.asarray(logits).T, state  # argmax(-1) now runs over the batch

        return reference_greedy_decode(transposed, state, batch_size, bos_id, eos_id, pad_id, max_len)

    with pytest.raises(CheckFailed, match=r"argmax\(axis=-1\), one token per row"):
        check_greedy_decode(wrong_axis)


def test_greedy_checker_argmax_over_axis_0_is_named():
    def axis_0(step, state, batch_size, bos_id, eos_id, pad_id, max_len):
        tokens, outputs = np.full(batch_size, bos_id), []
        for _ in range(max_len):
            logits, state = step(tokens, state)
            tokens = np.asarray(logits).argmax(axis=0)  # (vocab,): one per vocabulary entry
            outputs.append(tokens)
        return np.stack(outputs, 1)

    with pytest.raises(CheckFailed, match=r"shape \(batch,\)"):
        check_greedy_decode(axis_0)


def test_greedy_checker_end_token_written_as_pad():
    def eos_as_pad(step, state, batch_size, bos_id, eos_id, pad_id, max_len):
        tokens, finished, outputs = np.full(batch_size, bos_id), np.zeros(batch_size, bool), []
        for _ in range(max_len):
            logits, state = step(tokens, state)
            tokens = np.asarray(logits).argmax(-1)
            finished |= tokens == eos_id  # marked finished *before* writing: </s> becomes pad
            tokens = np.where(finished, pad_id, tokens)
            outputs.append(tokens)
            if finished.all():
                break
        return np.stack(outputs, 1)

    with pytest.raises(CheckFailed, match="</s> itself came out as pad") as info:
        check_greedy_decode(eos_as_pad)
    assert "previous *prediction*" not in str(info.value)


def test_greedy_checker_output_transposed():
    def transposed(*args):
        return reference_greedy_decode(*args).T  # (steps, batch)

    with pytest.raises(CheckFailed, match="axes are swapped") as info:
        check_greedy_decode(transposed)
    assert "stopped too early" not in str(info.value)


def test_greedy_checker_ragged_rows_are_a_check_failure():
    def ragged(step, state, batch_size, bos_id, eos_id, pad_id, max_len):
        ids = reference_greedy_decode(step, state, batch_size, bos_id, eos_id, pad_id, max_len)
        return [[int(i) for i in row[:list(row).index(eos_id) + 1]] for row in ids]  # rows end at </s>

    with pytest.raises(CheckFailed, match=r"different lengths \[7, 6, 5\]") as info:
        check_greedy_decode(ragged)
    assert "pad_id at the remaining steps" in str(info.value)

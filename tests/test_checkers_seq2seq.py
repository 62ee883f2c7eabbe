"""Chapter 02 checkers accept the reference and reject plausible wrong answers, saying why."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from utils.checkers import CheckFailed
from utils.checkers_seq2seq import (
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
    ],
    ids=["pads-in-mean", "pads-in-denominator", "per-sequence", "hard-coded-pad-0", "unstable-softmax"],
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

    with pytest.raises(CheckFailed):
        check_greedy_decode(wrong_axis)

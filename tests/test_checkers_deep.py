"""Each chapter-07 checker accepts a correct answer and rejects plausible wrong ones, naming the mistake."""
import numpy as np
import pytest

from utils.checkers.core import CheckFailed
from utils.checkers.deep import (
    check_beam_step,
    check_length_normalisation,
    check_residual_backward,
    reference_beam_step,
)


def _fails_with(checker, fn, *phrases):
    with pytest.raises(CheckFailed) as info:
        checker(fn)
    message = str(info.value)
    for phrase in phrases:
        assert phrase in message, message
    return message


# ------------------------------------------------------------------ residual block backward
def residual_reference(x, W, b, dy):
    F = np.tanh(x @ W.T + b)  # (batch, D)
    da = dy * (1 - F**2)
    return dy + da @ W, da.T @ x, da.sum(axis=0)


def residual_no_skip(x, W, b, dy):
    dx, dW, db = residual_reference(x, W, b, dy)
    return dx - dy, dW, db


def residual_skip_only(x, W, b, dy):
    _, dW, db = residual_reference(x, W, b, dy)
    return dy, dW, db


def residual_tanh_of_output(x, W, b, dy):
    F = np.tanh(x @ W.T + b)
    y = x + F
    da = dy * (1 - y**2)
    return dy + da @ W, da.T @ x, da.sum(axis=0)


def residual_no_tanh_derivative(x, W, b, dy):
    _, dW, db = residual_reference(x, W, b, dy)
    return dy + dy @ W, dW, db


def residual_transposed_W(x, W, b, dy):
    F = np.tanh(x @ W.T + b)
    da = dy * (1 - F**2)
    return dy + da @ W.T, da.T @ x, da.sum(axis=0)


def residual_dW_transposed(x, W, b, dy):
    dx, dW, db = residual_reference(x, W, b, dy)
    return dx, dW.T, db


def residual_dW_mean(x, W, b, dy):
    dx, dW, db = residual_reference(x, W, b, dy)
    return dx, dW / len(x), db


def residual_db_not_summed(x, W, b, dy):
    F = np.tanh(x @ W.T + b)
    da = dy * (1 - F**2)
    return dy + da @ W, da.T @ x, da


def residual_dW_from_output(x, W, b, dy):
    F = np.tanh(x @ W.T + b)
    da = dy * (1 - F**2)
    return dy + da @ W, da.T @ (x + F), da.sum(axis=0)


def test_residual_checker_accepts_reference(capsys):
    check_residual_backward(residual_reference)
    assert "all 3 cases pass" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, phrase",
    [
        (residual_no_skip, "the skip path is missing"),
        (residual_skip_only, "only the skip path"),
        (residual_tanh_of_output, "not 1 - y**2"),
        (residual_no_tanh_derivative, "must go through tanh too"),
        (residual_transposed_W, "not da @ W.T"),
        (residual_dW_transposed, "dW is transposed"),
        (residual_dW_mean, "do not average"),
        (residual_db_not_summed, "b's shape (D,)"),
        (residual_dW_from_output, "not the output y"),
    ],
)
def test_residual_checker_names_the_mistake(wrong, phrase):
    _fails_with(check_residual_backward, wrong, "residual_backward: case", phrase)


def test_residual_checker_reports_a_wrong_return_type():
    _fails_with(check_residual_backward, lambda x, W, b, dy: residual_reference(x, W, b, dy)[0],
                "expected a tuple (dx, dW, db)")


# ------------------------------------------------------------------ one beam-search step
def beam_reference(beam_scores, finished, next_log_probs, beam_size, eos_id):
    _k, V = next_log_probs.shape
    scores = beam_scores[:, None] + next_log_probs  # (k, V)
    scores[finished] = -np.inf
    scores[finished, eos_id] = beam_scores[finished]
    flat = scores.ravel()
    best = np.argsort(-flat)[:beam_size]
    return flat[best], best // V, best % V


def beam_without_beam_scores(beam_scores, finished, next_log_probs, beam_size, eos_id):
    scores = next_log_probs.copy()
    flat = scores.ravel()
    best = np.argsort(-flat)[:beam_size]
    return flat[best], best // scores.shape[1], best % scores.shape[1]


def beam_multiplies(beam_scores, finished, next_log_probs, beam_size, eos_id):
    flat = (beam_scores[:, None] * next_log_probs).ravel()
    best = np.argsort(-flat)[:beam_size]
    return flat[best], best // next_log_probs.shape[1], best % next_log_probs.shape[1]


def beam_lowest(beam_scores, finished, next_log_probs, beam_size, eos_id):
    flat = (beam_scores[:, None] + next_log_probs).ravel()
    best = np.argsort(flat)[:beam_size]
    return flat[best], best // next_log_probs.shape[1], best % next_log_probs.shape[1]


def beam_swapped_divmod(beam_scores, finished, next_log_probs, beam_size, eos_id):
    scores, parents, tokens = beam_reference(beam_scores, finished, next_log_probs, beam_size, eos_id)
    return scores, tokens, parents


def beam_extends_finished(beam_scores, finished, next_log_probs, beam_size, eos_id):
    flat = (beam_scores[:, None] + next_log_probs).ravel()  # finished rows treated like live ones
    best = np.argsort(-flat)[:beam_size]
    return flat[best], best // next_log_probs.shape[1], best % next_log_probs.shape[1]


def beam_drops_finished(beam_scores, finished, next_log_probs, beam_size, eos_id):
    scores = beam_scores[:, None] + next_log_probs
    scores[finished] = -np.inf
    flat = scores.ravel()
    best = np.argsort(-flat)[:beam_size]
    best = best[np.isfinite(flat[best])]
    return flat[best], best // scores.shape[1], best % scores.shape[1]


def beam_one_per_hypothesis(beam_scores, finished, next_log_probs, beam_size, eos_id):
    scores = beam_scores[:, None] + next_log_probs
    scores[finished] = -np.inf
    scores[finished, eos_id] = beam_scores[finished]
    if len(scores) == 1:  # the first step is right ...
        return beam_reference(beam_scores, finished, next_log_probs, beam_size, eos_id)
    tokens = scores.argmax(axis=1)  # ... later, only each hypothesis's best token
    best = scores[np.arange(len(scores)), tokens]
    order = np.argsort(-best)[:beam_size]
    return best[order], order, tokens[order]


def beam_unsorted(beam_scores, finished, next_log_probs, beam_size, eos_id):
    scores, parents, tokens = beam_reference(beam_scores, finished, next_log_probs, beam_size, eos_id)
    return scores[::-1], parents[::-1], tokens[::-1]


def test_beam_checker_accepts_reference(capsys):
    check_beam_step(beam_reference)
    assert "all 4 cases pass" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, phrase",
    [
        (beam_without_beam_scores, "log-probability alone"),
        (beam_multiplies, "log-probabilities add"),
        (beam_lowest, "lowest scores"),
        (beam_swapped_divmod, "parents and tokens are swapped"),
        (beam_extends_finished, "finished hypothesis was extended"),
        (beam_drops_finished, "finished hypothesis was dropped"),
        (beam_one_per_hypothesis, "one extension per hypothesis is not beam search"),
        (beam_unsorted, "best first"),
    ],
)
def test_beam_checker_names_the_mistake(wrong, phrase):
    _fails_with(check_beam_step, wrong, "beam_step: case", phrase)


def test_reference_beam_step_by_hand():
    """Two hypotheses over a vocabulary of 3 (</s> = 0), beam 3; hypothesis 1 has ended."""
    beam_scores = np.array([-1.0, -1.5])
    finished = np.array([False, True])
    next_log_probs = np.log(np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]]))
    scores, parents, tokens = reference_beam_step(beam_scores, finished, next_log_probs, 3, 0)
    # candidates: (0, w) = -1 + log p; (1, </s>) = -1.5 unchanged (its row of 0.8 is ignored)
    assert np.allclose(scores, [-1.5, -1 + np.log(0.5), -1 + np.log(0.3)])  # -1.5 > -1.69 > -2.20
    assert parents.tolist() == [1, 0, 0] and tokens.tolist() == [0, 0, 1]


def test_reference_beam_step_returns_fewer_when_there_are_fewer_candidates():
    scores, parents, tokens = reference_beam_step(np.array([-1.0]), np.array([True]), np.zeros((1, 4)), 3, 2)
    assert scores.tolist() == [-1.0] and parents.tolist() == [0] and tokens.tolist() == [2]


# ------------------------------------------------------------------ length normalisation
def length_reference(log_probs, lengths, alpha):
    return log_probs / lengths**alpha


@pytest.mark.parametrize(
    "wrong, phrase",
    [
        (lambda lp, n, a: lp * n**a, "do not multiply"),
        (lambda lp, n, a: lp / n, "to the power alpha"),
        (lambda lp, n, a: lp / (a * n) if a else lp, "not alpha * length"),
        (lambda lp, n, a: np.exp(lp) / n**a, "not the probability"),
        (lambda lp, n, a: lp / ((5 + n) / 6) ** a, "GNMT"),
        (lambda lp, n, a: lp / (n - 1) ** a, "</s> included"),
        (lambda lp, n, a: lp - a * np.log(n), "subtracting alpha * log(length)"),
    ],
)
def test_length_checker_names_the_mistake(wrong, phrase):
    _fails_with(check_length_normalisation, wrong, "length_normalisation: case", phrase)


def test_length_checker_accepts_reference(capsys):
    check_length_normalisation(length_reference)
    assert "all 4 cases pass" in capsys.readouterr().out


def test_checkers_report_not_implemented():
    def todo(*args):
        raise NotImplementedError

    for checker in (check_residual_backward, check_beam_step, check_length_normalisation):
        _fails_with(checker, todo, "not implemented yet")


def test_beam_checker_names_an_input_changed_in_place():
    def beam_in_place(beam_scores, finished, next_log_probs, beam_size, eos_id):
        next_log_probs += beam_scores[:, None]  # changes the caller's array
        next_log_probs[finished] = -np.inf
        next_log_probs[finished, eos_id] = beam_scores[finished]
        flat = next_log_probs.ravel()
        best = np.argsort(-flat, kind="stable")[:beam_size]
        best = best[np.isfinite(flat[best])]
        return flat[best], best // next_log_probs.shape[1], best % next_log_probs.shape[1]

    _fails_with(check_beam_step, beam_in_place, "changed its input next_log_probs")

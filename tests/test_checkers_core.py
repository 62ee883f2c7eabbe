"""utils.checkers.core, and what every checker gets from it: a reader's odd return value, error,
in-place change or endless loop is named in one plain sentence, never a crash of the checker."""
import time

import numpy as np
import pytest
import torch

import utils
from utils.checkers import core
from utils.checkers.attention import (
    check_attention_weight_backward,
    check_attention_weight_forward,
    check_weighted_sum_backward,
)
from utils.checkers.core import CheckFailed, check_cases, compare_arrays, compare_tuple, is_close, odd_value
from utils.checkers.getting_started import check_stable_softmax, reference_stable_softmax
from utils.checkers.rnn import check_gru_step, check_lstm_step, check_rnn_step_backward, reference_rnn_step_backward
from utils.checkers.seq2seq import (
    check_greedy_decode,
    check_masked_cross_entropy,
    reference_greedy_decode,
    reference_masked_cross_entropy,
)
from utils.scratch.attention import AttentionWeight
from utils.scratch.rnn import gru_step, lstm_step

# Every checker, with the number of arguments the reader's function takes.
CHECKERS = {
    "stable_softmax": (check_stable_softmax, 1),
    "gru_step": (check_gru_step, 3),
    "lstm_step": (check_lstm_step, 4),
    "rnn_step_backward": (check_rnn_step_backward, 5),
    "masked_cross_entropy": (check_masked_cross_entropy, 3),
    "greedy_decode": (check_greedy_decode, 7),
    "attention_weight_forward": (check_attention_weight_forward, 3),
    "weighted_sum_backward": (check_weighted_sum_backward, 3),
    "attention_weight_backward": (check_attention_weight_backward, 4),
}


def _returning(value, arity):
    def fn(*args):
        assert len(args) == arity
        return value() if callable(value) else value
    return fn


# ------------------------------------------------------------------ odd return values, every checker
ODD = [
    (None, r"returned None: did you forget `return`\?"),
    ("abc", r"returned a string \('abc'\), not numbers"),
    ({"h": 1}, r"returned a dict \(keys \['h'\]\), not numbers"),
    (lambda: (i for i in range(3)), r"returned a generator, not an array: a `yield`, or a generator expression"),
    (lambda: torch.ones(2, 3, dtype=torch.bfloat16), r"returned a torch.bfloat16 tensor: it keeps about 3 significant"),
]


@pytest.mark.parametrize("checker", CHECKERS, ids=str)
@pytest.mark.parametrize("value, message", ODD, ids=["None", "str", "dict", "generator", "bfloat16"])
def test_every_checker_names_an_odd_return_value_plainly(checker, value, message):
    check, arity = CHECKERS[checker]
    with pytest.raises(CheckFailed, match=f"{checker}: case '.*': your function {message}") as info:
        check(_returning(value, arity))
    text = str(info.value)
    assert "hint:" not in text  # no guess built on a value that is not numbers
    assert "nan" not in text and "shape ()" not in text and "overflow" not in text


@pytest.mark.parametrize("checker", CHECKERS, ids=str)
def test_every_checker_reports_the_readers_own_error(checker):
    check, arity = CHECKERS[checker]

    def broken(*args):
        return 1 / 0

    with pytest.raises(CheckFailed, match=f"{checker}: case '.*': raised ZeroDivisionError: division by zero") as info:
        check(broken)
    assert "return both gradients" not in str(info.value)  # a hint written for returned values


@pytest.mark.parametrize("checker", ["rnn_step_backward", "lstm_step", "weighted_sum_backward",
                                     "attention_weight_backward"])
def test_tuple_checkers_name_a_single_number_instead_of_a_tuple(checker):
    check, arity = CHECKERS[checker]
    with pytest.raises(CheckFailed, match=r"expected a tuple \(.*\), got float"):
        check(_returning(0.5, arity))


def test_rnn_step_backward_with_a_scalar_and_none_inside_the_tuple():
    def none_inside(dh, x, h_prev, h, params):
        dx, dh_prev, dW_x, dW_h, db = reference_rnn_step_backward(dh, x, h_prev, h, params)
        return dx, dh_prev, dW_x, None, db

    with pytest.raises(CheckFailed, match=r"dW_h \(fourth output\) is wrong: your function returned None"):
        check_rnn_step_backward(none_inside)

    def scalar_db(dh, x, h_prev, h, params):
        return (*reference_rnn_step_backward(dh, x, h_prev, h, params)[:4], 0.0)

    with pytest.raises(CheckFailed, match=r"db \(fifth output\) is wrong: expected an array of shape \(4,\), got a "
                                          r"single number 0"):
        check_rnn_step_backward(scalar_db)


# ------------------------------------------------------------------ in-place changes
def test_softmax_that_shifts_its_input_in_place_is_named():
    def shifts_in_place(x):
        x -= x.max(axis=-1, keepdims=True)  # right values, but the caller's array changes
        e = np.exp(x)
        return e / e.sum(axis=-1, keepdims=True)

    with pytest.raises(CheckFailed, match=r"stable_softmax: your function changed its input x in place"):
        check_stable_softmax(shifts_in_place)


def test_loss_that_shifts_the_logits_in_place_is_named():
    def shifts_logits(logits, targets, pad_id):
        logits -= logits.max(axis=-1, keepdims=True)
        return reference_masked_cross_entropy(logits, targets, pad_id)

    with pytest.raises(CheckFailed, match=r"masked_cross_entropy: your function changed its input logits in place"):
        check_masked_cross_entropy(shifts_logits)


def test_a_correct_gru_step_that_scales_h_prev_in_place_is_told_so_not_blamed_on_a_gate():
    def scales_h_prev(x, h_prev, params):
        h = gru_step(x, h_prev, params)
        h_prev *= 0.0  # "free the memory": the caller's state is gone
        return h

    with pytest.raises(CheckFailed) as info:
        check_gru_step(scales_h_prev)
    message = str(info.value)
    assert "changed its input h_prev in place" in message
    assert "looks wrong" not in message


def test_lstm_step_that_changes_c_prev_in_place_gets_one_consistent_message():
    def resets_c_prev(x, h_prev, c_prev, params):
        h, c = lstm_step(x, h_prev, c_prev, params)
        c_prev[...] = c  # overwrite the caller's cell state with the new one
        return h, c

    with pytest.raises(CheckFailed) as info:
        check_lstm_step(resets_c_prev)
    message = str(info.value)
    assert "changed its input c_prev in place" in message
    assert "is wrong" not in message and "is right" not in message


def test_a_changed_params_entry_is_named_by_its_key():
    def edits_params(x, h_prev, params):
        params["b_z"] += 1.0
        return gru_step(x, h_prev, params)

    with pytest.raises(CheckFailed, match=r"changed its input params\['b_z'\] in place"):
        check_gru_step(edits_params)


def test_attention_checkers_name_a_changed_mask_and_da():
    def flips_mask(hs, s, mask):
        if mask is not None:
            mask[:, 0] = True
        return AttentionWeight().forward(hs, s, mask)

    with pytest.raises(CheckFailed, match=r"changed its input mask in place"):
        check_attention_weight_forward(flips_mask)

    def scales_da(hs, s, a, da):
        layer = AttentionWeight()
        layer.forward(hs, s)
        da *= 1.0 + 1e-12  # a tiny change is still a change
        return layer.backward(da / (1.0 + 1e-12))

    with pytest.raises(CheckFailed, match=r"changed its input da in place"):
        check_attention_weight_backward(scales_da)


# ------------------------------------------------------------------ endless loops and slow functions
def _greedy_ignoring_state(step, state, batch_size, bos_id, eos_id, pad_id, max_len):
    """The plausible wrong loop of the issue: `while not finished.all()`, the state never updated."""
    tokens = np.full(batch_size, bos_id)
    finished = np.zeros(batch_size, dtype=bool)
    outputs = []
    while not finished.all():
        logits, _ = step(tokens, state)  # the new state is dropped
        tokens = np.where(finished, pad_id, logits.argmax(-1))
        outputs.append(tokens)
        finished |= tokens == eos_id
    return np.stack(outputs, axis=1)


def test_greedy_checker_stops_a_loop_that_ignores_the_state():
    start = time.monotonic()
    with pytest.raises(CheckFailed, match=r"greedy_decode: case '.*': step\(\) was given a stale state at step 2: "
                                          r"pass back the state the previous call returned"):
        check_greedy_decode(_greedy_ignoring_state)
    assert time.monotonic() - start < 5


def test_greedy_checker_counts_steps_itself_and_cannot_be_swallowed():
    def never_stops(step, state, batch_size, bos_id, eos_id, pad_id, max_len):
        tokens = np.full(batch_size, bos_id)
        outputs = []
        while True:  # no max_len, and a reader's except-all cannot hide the checker's stop
            try:
                logits, state = step(tokens, state)
            except Exception:  # noqa: BLE001
                break
            tokens = logits.argmax(-1)
            outputs.append(tokens)
            if (tokens == eos_id).all():
                break
        return np.stack(outputs, axis=1)

    with pytest.raises(CheckFailed, match=r"called more than max_len=\d+ times"):
        check_greedy_decode(never_stops)


def test_an_endless_loop_is_stopped_by_the_time_budget(monkeypatch):
    monkeypatch.setattr(core, "TIME_LIMIT", 0.5)

    def spins(x):
        while True:
            pass

    start = time.monotonic()
    with pytest.raises(CheckFailed, match=r"stable_softmax: stopped after 0.5 s: your function used the checker's "
                                          r"whole time budget .*a loop that never ends"):
        check_stable_softmax(spins)
    assert time.monotonic() - start < 3


def test_an_alarm_set_before_the_checker_is_given_back():
    """A test runner's own SIGALRM timeout must survive a checker."""
    import signal

    if not hasattr(signal, "setitimer"):
        pytest.skip("no interval timers on this platform")
    rang = []
    previous = signal.signal(signal.SIGALRM, lambda *_: rang.append(1))
    try:
        signal.setitimer(signal.ITIMER_REAL, 1.0)
        check_stable_softmax(reference_stable_softmax)
        remaining, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 0 < remaining <= 1.0
        time.sleep(remaining + 0.2)
        assert rang == [1]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_the_budget_is_for_all_calls_together(monkeypatch):
    monkeypatch.setattr(core, "TIME_LIMIT", 0.6)
    calls = []

    def slow_and_wrong(x, h_prev, c_prev, params):
        calls.append(1)
        time.sleep(0.25)
        h, c = lstm_step(x, h_prev, c_prev, params)
        return h + 0.1, c + 0.1

    with pytest.raises(CheckFailed, match=r"lstm_step: stopped after 0.6 s"):
        check_lstm_step(slow_and_wrong)
    assert len(calls) <= 3


def test_a_failing_function_is_called_once_per_case_at_most():
    calls = []

    def wrong(x, h_prev, c_prev, params):
        calls.append(1)
        h, c = lstm_step(x, h_prev, c_prev, params)
        return h, c * 1.5

    with pytest.raises(CheckFailed):
        check_lstm_step(wrong)
    assert len(calls) <= 6  # was 8: the hints re-ran the reader's function


# ------------------------------------------------------------------ the shared helpers themselves
def test_compare_arrays_messages():
    assert compare_arrays(np.ones(3), np.ones(3)) is None
    assert compare_arrays(np.ones(2), np.ones(3)) == "expected shape (3,), got shape (2,)"
    assert "at index (1,) expected 2, got 5" in compare_arrays(np.array([1.0, 5.0]), np.array([1.0, 2.0]))
    assert compare_arrays(torch.ones(2), np.ones(2)) is None
    assert compare_arrays(torch.ones(2, dtype=torch.bfloat16), np.ones(2)).startswith("your function returned a "
                                                                                       "torch.bfloat16 tensor")
    assert compare_arrays(np.ones(2), 1.0) == "expected one number, got an array of shape (2,)"
    assert compare_arrays(2.5, 1.0) == "expected 1, got 2.5"
    assert compare_arrays(float("nan"), 1.0) == "got nan (expected 1)"


def test_is_close_and_compare_tuple():
    assert is_close((np.ones(2), 1.0), (np.ones(2), 1.0))
    assert not is_close((np.ones(2),), (np.ones(2), 1.0))
    assert not is_close("abc", np.ones(3))  # never raises
    compare = compare_tuple(("h_t", "c_t"), order=(1, 0))
    assert compare((np.ones(2), np.ones(2)), (np.ones(2), np.ones(2))) is None
    assert compare((np.zeros(2), np.ones(2)), (np.ones(2), np.ones(2))).startswith(
        "c_t is right, but h_t (first output) is wrong: at index (0,)")
    assert compare(np.ones(2), (np.ones(2), np.ones(2))) == "expected a tuple (h_t, c_t), got ndarray"


def test_odd_value_accepts_numbers():
    for value in (1.0, np.ones(3), torch.ones(2), [1.0, 2.0], (np.ones(2), np.ones(2))):
        assert odd_value(value) is None


def test_check_cases_reports_exceptions_and_not_implemented():
    def boom(x):
        raise KeyError("oops")

    def todo(x):
        raise NotImplementedError

    with pytest.raises(CheckFailed, match="case 'one': raised KeyError"):
        check_cases(boom, [("one", (1,), 1)], name="f")
    with pytest.raises(CheckFailed, match="not implemented yet"):
        check_cases(todo, [("one", (1,), 1)], name="f")


def test_a_hint_that_fails_is_left_out_not_raised():
    def bad_hint(description, got, expected):
        raise RuntimeError("bug in a hint")

    with pytest.raises(CheckFailed) as info:
        check_cases(lambda x: x + 1, [("one", (1.0,), 1.0)], name="f", hint=bad_hint)
    assert str(info.value) == "f: case 'one': expected 1, got 2"


# ------------------------------------------------------------------ chapter 00: stable softmax
def test_stable_softmax_checker_accepts_reference():
    check_stable_softmax(reference_stable_softmax)
    assert utils.check_stable_softmax is check_stable_softmax


@pytest.mark.parametrize(
    "wrong, match",
    [
        (lambda x: np.exp(x) / np.exp(x).sum(-1, keepdims=True), "large logits.*nan.*Subtract the maximum"),
        (lambda x: np.exp(x - x.max()) / np.exp(x - x.max()).sum(), "batch of 2 rows.*normalise each row"),
        (lambda x: np.exp(x - x.max(-1, keepdims=True)), "small logits.*expected 0.09"),
        (lambda x: x / x.sum(-1, keepdims=True), "small logits"),
        (lambda x: np.exp(x - np.max(x)) / np.exp(x - np.max(x)).sum(-1, keepdims=True), "far apart.*own maximum"),
        (lambda x: np.exp(x - x.max(-1)) / np.exp(x - x.max(-1)).sum(-1),
         "batch of 2 rows.*raised ValueError.*keepdims=True"),
    ],
)
def test_stable_softmax_checker_rejects_wrong_versions(wrong, match):
    with np.errstate(all="ignore"):
        with pytest.raises(CheckFailed, match=f"(?s){match}"):
            check_stable_softmax(wrong)


def test_greedy_reference_is_what_the_checker_expects(capsys):
    check_greedy_decode(reference_greedy_decode)
    assert "✓ greedy_decode: all 4 cases pass" in capsys.readouterr().out

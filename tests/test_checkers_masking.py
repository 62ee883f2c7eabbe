"""Chapter 05 checkers: a right answer passes, and each usual mistake fails with its name."""
import numpy as np
import pytest

from utils.checkers.core import CheckFailed
from utils.checkers.masking import check_causal_mask, check_mlm_mask, check_padding_mask
from utils.scratch.masking import IGNORE_LABEL, mlm_mask


def fails_with(checker, fn, *fragments):
    with pytest.raises(CheckFailed) as info:
        checker(fn)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message
    return message


# ------------------------------------------------------------------ padding mask
def padding_right(lengths, max_len):
    return np.arange(max_len)[None, :] < np.asarray(lengths)[:, None]


def test_padding_mask_right_answer_passes(capsys):
    check_padding_mask(padding_right)
    assert "all 5 cases pass" in capsys.readouterr().out


def test_padding_mask_inverted():
    fails_with(check_padding_mask, lambda lengths, n: ~padding_right(lengths, n), "inverted")


def test_padding_mask_off_by_one():
    fails_with(check_padding_mask, lambda lengths, n: np.arange(n)[None, :] <= np.asarray(lengths)[:, None],
               "off by one", "j < length")


def test_padding_mask_transposed():
    fails_with(check_padding_mask, lambda lengths, n: padding_right(lengths, n).T, "transposed")


def test_padding_mask_integers_not_booleans():
    fails_with(check_padding_mask, lambda lengths, n: padding_right(lengths, n).astype(int), "dtype", "boolean")


def test_padding_mask_reader_exception_is_reported():
    def broken(lengths, max_len):
        raise KeyError("oops")

    fails_with(check_padding_mask, broken, "KeyError")


# ------------------------------------------------------------------ causal mask
def test_causal_mask_right_answer_passes(capsys):
    check_causal_mask(lambda n: np.tril(np.ones((n, n), dtype=bool)))
    assert "all 4 cases pass" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, fragment", [
    (lambda n: np.tril(np.ones((n, n), dtype=bool), -1), "diagonal must be True"),
    (lambda n: np.tril(np.ones((n, n), dtype=bool), 1), "one position into the future"),
    (lambda n: np.triu(np.ones((n, n), dtype=bool), 1), "inverted"),
    (lambda n: np.triu(np.ones((n, n), dtype=bool)), "transposed"),
    (lambda n: np.ones((n, n), dtype=bool)[None], "(n_queries, n_keys)"),
])
def test_causal_mask_names_the_mistake(wrong, fragment):
    fails_with(check_causal_mask, wrong, fragment)


# ------------------------------------------------------------------ 80-10-10
def mlm_right(ids, mask_id, vocab_size, special_ids, rng):
    return mlm_mask(ids, mask_id=mask_id, vocab_size=vocab_size, special_ids=special_ids, rng=rng)


def test_mlm_right_answer_passes(capsys):
    check_mlm_mask(mlm_right)
    assert "proportions pass" in capsys.readouterr().out


def test_mlm_masking_specials():
    def wrong(ids, mask_id, vocab_size, special_ids, rng):
        chosen = rng.random(ids.shape) < 0.15  # every position, pads included
        inputs = np.where(chosen, mask_id, ids)
        return inputs, np.where(chosen, ids, IGNORE_LABEL)

    fails_with(check_mlm_mask, wrong, "masking specials")


def test_mlm_no_noise():
    fails_with(check_mlm_mask,
               lambda ids, m, v, s, rng: mlm_mask(ids, mask_id=m, vocab_size=v, special_ids=s, rng=rng,
                                                   mask_prob=1.0, random_prob=0.0),
               "every chosen position became [MASK]", "80-10-10")


def test_mlm_labels_everywhere():
    def wrong(ids, mask_id, vocab_size, special_ids, rng):
        inputs, _ = mlm_right(ids, mask_id, vocab_size, special_ids, rng)
        return inputs, ids.copy()

    fails_with(check_mlm_mask, wrong, "-100 everywhere else")


def test_mlm_labels_are_the_corrupted_inputs():
    def wrong(ids, mask_id, vocab_size, special_ids, rng):
        inputs, labels = mlm_right(ids, mask_id, vocab_size, special_ids, rng)
        return inputs, np.where(labels != IGNORE_LABEL, inputs, IGNORE_LABEL)

    fails_with(check_mlm_mask, wrong, "ORIGINAL ids")


def test_mlm_two_independent_draws():
    def wrong(ids, mask_id, vocab_size, special_ids, rng):  # random: 0.2 * 0.1 of the chosen, not 0.1
        ordinary = ~np.isin(ids, special_ids)
        chosen = ordinary & (rng.random(ids.shape) < 0.15)
        to_mask = chosen & (rng.random(ids.shape) < 0.8)
        to_random = chosen & ~to_mask & (rng.random(ids.shape) < 0.1)
        inputs = ids.copy()
        inputs[to_mask] = mask_id
        inputs[to_random] = rng.integers(4, vocab_size, size=int(to_random.sum()))
        return inputs, np.where(chosen, ids, IGNORE_LABEL)

    fails_with(check_mlm_mask, wrong, "became another ordinary token", "ONE number u")


def test_mlm_random_token_may_be_special():
    def wrong(ids, mask_id, vocab_size, special_ids, rng):
        inputs, labels = mlm_right(ids, mask_id, vocab_size, special_ids, rng)
        random_pos = (labels != IGNORE_LABEL) & (inputs != mask_id) & (inputs != ids)
        inputs[random_pos] = rng.integers(0, vocab_size, size=int(random_pos.sum()))  # pads and <s> too
        inputs[random_pos & (inputs == ids)] = 0
        return inputs, labels

    fails_with(check_mlm_mask, wrong, "special token")


def test_mlm_fifteen_percent_of_all_positions():
    def wrong(ids, mask_id, vocab_size, special_ids, rng):
        n = ids.size
        ordinary = ~np.isin(ids, special_ids)
        chosen = np.zeros(n, dtype=bool)
        chosen[rng.choice(np.flatnonzero(ordinary.ravel()), size=int(0.15 * n), replace=False)] = True
        chosen = chosen.reshape(ids.shape)
        what = rng.random(ids.shape)
        inputs = ids.copy()
        inputs[chosen & (what < 0.8)] = mask_id
        rand = chosen & (what >= 0.8) & (what < 0.9)
        inputs[rand] = rng.integers(4, vocab_size, size=int(rand.sum()))
        return inputs, np.where(chosen, ids, IGNORE_LABEL)

    fails_with(check_mlm_mask, wrong, "15% of ALL positions")


def test_mlm_wrong_return():
    fails_with(check_mlm_mask, lambda ids, m, v, s, rng: ids, "pair (inputs, labels)")

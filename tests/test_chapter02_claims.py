"""Chapter 02's findings on seeds 1 and 2 (the notebook asserts seed 0), with the chapter's code.

The experiment below is the notebook's Sections 5-7 (the same settings, the same measures);
each claim_* function asserts one of the chapter's sentences with the chapter's margins. One
test per seed trains the models once and checks every claim, about 40 s of CPU per seed.
"""
import ast
from pathlib import Path

import numpy as np
import pytest

import utils

CHAPTER = Path(__file__).resolve().parent.parent / "chapters" / "02_seq2seq_bottleneck.py"


def _from_chapter(*names):
    """The chapter's own top-level definitions (functions and constants) of ``names``, so the test
    measures with the notebook's code, not a copy of it."""
    tree = ast.parse(CHAPTER.read_text(encoding="utf-8"))
    wanted = [node for node in tree.body
              if (isinstance(node, ast.FunctionDef) and node.name in names)
              or (isinstance(node, ast.Assign) and any(getattr(t, "id", None) in names for t in node.targets))]
    namespace = {"np": np, "utils": utils}
    exec(compile(ast.Module(body=wanted, type_ignores=[]), str(CHAPTER), "exec"), namespace)  # noqa: S102
    missing = [n for n in names if n not in namespace]
    assert not missing, f"chapter 02 no longer defines {missing}"
    return [namespace[n] for n in names]


(LENGTHS, CHAPTER_SWEEP, half_accuracy_length, accuracy_by_position, first_error, share_of_swaps,
 corrupted_prefix_error) = _from_chapter("LENGTHS", "SWEEP", "half_accuracy_length", "accuracy_by_position",
                                         "first_error", "share_of_swaps", "corrupted_prefix_error")
SWEEP = {k: v for k, v in CHAPTER_SWEEP.items() if k != "seed"}  # the seed is the test's parameter
SIZES = (16, 64, 256)
PEEKY_SIZES = (16, 64)
EXPOSURE_LENGTH = 10


def experiment(seed):
    utils.setup(seed=seed)
    settings = dict(SWEEP, seed=seed, progress=False, verbose=False)
    out = {"acc": {}, "half": {}}
    models = {}
    for size in SIZES:
        models[size], out["acc"][size] = utils.length_sweep("reverse", LENGTHS, hidden_size=size, **settings)
    for size in PEEKY_SIZES:
        _, out["acc"][f"{size} peeky"] = utils.length_sweep("reverse", LENGTHS, hidden_size=size, peeky=True,
                                                            **settings)
    _, out["acc"]["copy"] = utils.length_sweep("copy", LENGTHS, hidden_size=64, **settings)
    out["half"] = {name: half_accuracy_length(acc) for name, acc in out["acc"].items()}

    model = models[64]
    test = utils.make_task("reverse", 300, min_len=EXPOSURE_LENGTH, max_len=EXPOSURE_LENGTH, seed=12)
    targets = [list(t) for _, t in test]
    forced = model.teacher_forced_tokens(test)
    free = [list(p) for p in model.translate_batch([s for s, _ in test])]
    out["exact_forced"], out["exact_free"] = utils.exact_match(forced, targets), utils.exact_match(free, targets)
    out["token"] = utils.teacher_forcing_accuracy(model, test)
    out["by_position_forced"] = accuracy_by_position(forced, targets)
    out["by_position_free"] = accuracy_by_position(free, targets)
    out["swaps"], _ = share_of_swaps(free, targets)
    out["error_true"], out["error_wrong"], _ = corrupted_prefix_error(model, test)
    return out


def claim_accuracy_falls_with_length_for_every_size(out):
    acc = out["acc"]
    for size in SIZES:
        assert acc[size][LENGTHS[0]] >= 0.9
    for name in acc:  # every curve, the peeky ones and the copy run included, as the chapter asserts
        assert max(acc[name][n] for n in LENGTHS if n >= 16) <= 0.05, (name, acc[name])


def claim_a_larger_state_delays_the_fall(out):
    half = out["half"]
    assert half[64] >= half[16] + 3, half
    assert half[256] >= half[64] + 1, half


def claim_the_peeky_decoder_does_not_move_the_fall(out):
    half = out["half"]
    for size in PEEKY_SIZES:
        assert half[f"{size} peeky"] <= half[size] + 1.0, half


def claim_reversing_the_source_helps(out):
    acc, half = out["acc"], out["half"]
    gain = np.mean([acc[64][n] - acc["copy"][n] for n in LENGTHS if 4 <= n <= 10])
    assert gain >= 0.2, gain
    assert half[64] >= half["copy"] + 1.5, half


def claim_exposure_bias(out):
    assert out["exact_forced"] == out["exact_free"]
    assert out["token"]["teacher_forced"] - out["token"]["free_running"] >= 0.05, out["token"]
    gap = out["by_position_forced"] - out["by_position_free"]
    assert abs(gap[0]) <= 0.01
    # the model's own first mistakes are mostly swaps of neighbours
    assert out["swaps"] >= 0.5, out["swaps"]
    # one wrong letter in the prefix: the next letter is wrong far more often (exposure bias, isolated)
    assert out["error_wrong"] >= out["error_true"] + 0.3, (out["error_true"], out["error_wrong"])


def claim_teacher_forced_accuracy_is_u_shaped(out):
    by_position = out["by_position_forced"]
    middle = by_position[2:-2].min()
    assert min(by_position[0], by_position[-1]) >= middle + 0.1, np.round(by_position, 2)


CLAIMS = [claim_accuracy_falls_with_length_for_every_size, claim_a_larger_state_delays_the_fall,
          claim_the_peeky_decoder_does_not_move_the_fall, claim_reversing_the_source_helps, claim_exposure_bias,
          claim_teacher_forced_accuracy_is_u_shaped]


@pytest.mark.parametrize("seed", [1, 2])
def test_chapter_02_claims_hold(seed):
    """Every claim on one seed's models (trained once: one test per seed, so parallel runs do
    not train the same models twice); the failures are reported together, by claim."""
    out = experiment(seed)
    failures = []
    for claim in CLAIMS:
        try:
            claim(out)
        except AssertionError as error:
            failures.append(f"{claim.__name__}: {error}")
    assert not failures, f"seed {seed}: " + "; ".join(failures)


def test_the_claims_can_fail():
    """A model without a bottleneck (flat curves), a peeky decoder that helps, and a flat
    per-position curve are each rejected."""
    flat = {n: 1.0 for n in LENGTHS}
    with pytest.raises(AssertionError):
        claim_accuracy_falls_with_length_for_every_size({"acc": {16: flat, 64: flat, 256: flat}})
    with pytest.raises(AssertionError):
        claim_the_peeky_decoder_does_not_move_the_fall({"half": {16: 4.0, "16 peeky": 8.0, 64: 8.0,
                                                                  "64 peeky": 8.0}})
    with pytest.raises(AssertionError):
        claim_teacher_forced_accuracy_is_u_shaped({"by_position_forced": np.full(10, 0.8)})

"""Tests of the utils core: setup, Vocab, pairs files, metrics, plots, fit, checkers."""
import random

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import utils  # noqa: E402
from utils.checkers.core import compare_arrays  # noqa: E402


# ------------------------------------------------------------------ setup
def test_setup_seeds_everything_and_uses_one_thread():
    device = utils.setup(seed=3)
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    utils.setup(seed=3)
    b = (random.random(), np.random.rand(), torch.rand(1).item())
    assert a == b
    assert torch.get_num_threads() == 1
    assert device.type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_setup_rejects_bad_arguments():
    with pytest.raises(TypeError, match="seed must be an int"):
        utils.setup(seed=1.5)
    with pytest.raises(ValueError, match="non-negative"):
        utils.setup(seed=-1)
    with pytest.raises(ValueError, match="threads"):
        utils.setup(seed=0, threads=0)


# ------------------------------------------------------------------ Vocab
def test_vocab_round_trip_and_specials():
    v = utils.Vocab.build(["abc", "cab"])
    assert v.tokens[:4] == ["<pad>", "<s>", "</s>", "<unk>"]
    assert (v.pad_id, v.bos_id, v.eos_id, v.unk_id) == (0, 1, 2, 3)
    assert len(v) == 7
    ids = v.encode("cab", bos=True, eos=True)
    assert ids[0] == v.bos_id and ids[-1] == v.eos_id
    assert v.decode(ids) == "cab"
    assert v.decode(ids + [v.stoi["a"]]) == "cab", "decoding stops at </s>"
    assert v.decode(ids, strip_special=False) == "<s>cab</s>"


def test_vocab_unknown_symbols_map_to_unk():
    v = utils.Vocab.build(["ab"])
    assert v.encode("axb") == [v.stoi["a"], v.unk_id, v.stoi["b"]]
    assert v.decode(v.encode("axb")) == "a<unk>b"


def test_vocab_word_level():
    v = utils.Vocab.build(["the cat", "the dog"], level="word")
    assert v.decode(v.encode("the dog")) == "the dog"
    assert v.encode("a cat")[0] == v.unk_id


def test_vocab_build_is_deterministic_and_min_count():
    assert utils.Vocab.build(["ba", "ab"]).tokens == utils.Vocab.build(["ab", "ba"]).tokens
    assert "c" not in utils.Vocab.build(["aab", "c"], min_count=2)


def test_vocab_pad_batch_shapes_and_lengths():
    v = utils.Vocab.build(["abcd"])
    ids, lengths = v.encode_batch(["abcd", "a", "bc"], eos=True)
    assert ids.shape == (3, 5) and ids.dtype == torch.long
    assert lengths.tolist() == [5, 2, 3]
    assert ids[1, 2:].tolist() == [v.pad_id] * 3
    assert ids[1, 1].item() == v.eos_id


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda v: v.encode(""), ValueError, "empty sequence"),
        (lambda v: v.encode_batch([]), ValueError, "empty batch"),
        (lambda v: v.encode_batch("ab"), TypeError, "list of strings"),
        (lambda v: v.pad_batch([[4], []]), ValueError, "sequence 1 of the batch is empty"),
        (lambda v: v.decode([99]), ValueError, "outside the vocabulary"),
        (lambda v: v.decode(torch.zeros(2, 2, dtype=torch.long)), ValueError, "1-D"),
        (lambda v: v.encode(3), TypeError, "expected a string"),
    ],
)
def test_vocab_errors(call, error, match):
    with pytest.raises(error, match=match):
        call(utils.Vocab.build(["ab"]))


def test_vocab_build_errors():
    with pytest.raises(ValueError, match="no texts"):
        utils.Vocab.build([])
    with pytest.raises(TypeError, match="not one string"):
        utils.Vocab.build("abc")
    with pytest.raises(ValueError, match="level"):
        utils.Vocab.build(["a"], level="byte")


# ------------------------------------------------------------------ pairs
def test_pairs_round_trip(tmp_path):
    pairs = [("16+75", "91"), ("2 mars 2021", "2021-03-02"), ("서울", "seoul")]
    path = utils.save_pairs(pairs, tmp_path / "p.tsv")
    assert utils.load_pairs(path) == pairs


@pytest.mark.parametrize(
    "content, match",
    [
        (b"", "is empty"),
        (b"\n\n", "is empty"),
        (b"a\tb\nc\n", "line 2: expected 2 tab-separated columns, got 1"),
        (b"a\tb\nc\td\te\n", "line 2: expected 2 tab-separated columns, got 3"),
        (b"a\tb\n\nc\td\n", "line 2: empty line"),
        (b"a\tb\n\tb\n", "line 2: the source is empty"),
        (b"a\t\n", "line 1: the target is empty"),
        (b"a\tb\nc\xff\td\n", "line 2: not valid UTF-8"),
    ],
)
def test_load_pairs_errors_name_file_and_line(tmp_path, content, match):
    path = tmp_path / "bad.tsv"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=match) as err:
        utils.load_pairs(path)
    assert "bad.tsv" in str(err.value)


def test_load_pairs_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such pairs file"):
        utils.load_pairs(tmp_path / "nope.tsv")


def test_save_pairs_rejects_tabs_and_empty(tmp_path):
    with pytest.raises(ValueError, match="tabs or newlines"):
        utils.save_pairs([("a\tb", "c")], tmp_path / "x.tsv")
    with pytest.raises(ValueError, match="no pairs"):
        utils.save_pairs([], tmp_path / "x.tsv")


# ------------------------------------------------------------------ metrics
def test_exact_match_lists_and_model():
    assert utils.exact_match(["ab", "cd", "x"], ["ab", "cx", "x"]) == pytest.approx(2 / 3)

    class Reverser:
        def translate(self, source):
            return source[::-1]

    assert utils.exact_match(Reverser(), [("ab", "ba"), ("abc", "cba"), ("xy", "xy")]) == pytest.approx(2 / 3)

    class BatchReverser:
        calls = 0

        def translate_batch(self, sources):
            BatchReverser.calls += 1
            return [s[::-1] for s in sources]

    assert utils.exact_match(BatchReverser(), [("ab", "ba"), ("ab", "ab")]) == 0.5
    assert BatchReverser.calls == 1, "a batched model is asked once, not once per pair"


def test_metric_errors():
    with pytest.raises(ValueError, match="2 predictions but 1 targets"):
        utils.exact_match(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="at least one"):
        utils.exact_match([], [])
    with pytest.raises(TypeError, match="lists of sequences"):
        utils.token_accuracy("abc", "abc")


def test_token_accuracy_counts_positions_of_the_target():
    assert utils.token_accuracy(["abc"], ["abd"]) == pytest.approx(2 / 3)
    assert utils.token_accuracy(["a"], ["abcd"]) == pytest.approx(1 / 4)  # too short misses the rest
    assert utils.token_accuracy(["abcdef"], ["ab"]) == 1.0
    assert utils.token_accuracy([["K", "AE1", "T"]], [["K", "AE1", "D"]]) == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    "a, b, d",
    [("kitten", "sitting", 3), ("", "abc", 3), ("abc", "", 3), ("abc", "abc", 0), ("ab", "ba", 2),
     (["K", "AE1", "T"], ["K", "AE1", "D"], 1)],
)
def test_edit_distance(a, b, d):
    assert utils.edit_distance(a, b) == d
    assert utils.edit_distance(b, a) == d


# ------------------------------------------------------------------ plots
def test_plot_attention_labels_source_on_x_output_on_y():
    w = np.full((3, 4), 0.25)
    ax = utils.plot_attention(w, list("ab c"), list("xyz"), title="where each output looked")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "␣", "c"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["x", "y", "z"]
    assert ax.get_xlabel().startswith("source") and ax.get_ylabel().startswith("output")
    assert ax.get_title() == "where each output looked"
    plt.close("all")


def test_plot_attention_errors():
    with pytest.raises(ValueError, match=r"expected \(2, 3\)"):
        utils.plot_attention(np.ones((3, 2)), list("abc"), list("xy"))
    with pytest.raises(ValueError, match="NaN"):
        utils.plot_attention(np.array([[np.nan]]), ["a"], ["x"])
    with pytest.raises(ValueError, match="2-D"):
        utils.plot_attention(np.ones(3), list("abc"), ["x"])


def test_plot_history():
    ax = utils.plot_history({"loss": [1.0, 0.5, 0.2], "metric": [0.1, 0.5, 0.9], "metric_name": "exact match"})
    assert ax.get_xlabel() == "epoch" and "loss" in ax.get_ylabel()
    plt.close("all")
    with pytest.raises(ValueError, match="no epochs"):
        utils.plot_history({"loss": []})


# ------------------------------------------------------------------ fit
def _regression_problem():
    utils.setup(seed=0)
    model = torch.nn.Linear(3, 1)
    x = torch.randn(64, 3)
    y = x @ torch.tensor([1.0, -2.0, 0.5])
    batches = [(x[i : i + 16], y[i : i + 16]) for i in range(0, 64, 16)]

    def loss_fn(m, batch):
        return ((m(batch[0]).squeeze(-1) - batch[1]) ** 2).mean()

    def neg_mse(m):
        assert not m.training, "evaluate runs in eval mode"
        assert not torch.is_grad_enabled(), "evaluate runs without gradients"
        return -((m(x).squeeze(-1) - y) ** 2).mean().item()

    return model, batches, loss_fn, neg_mse


def test_fit_learns_records_history_and_stops_early(capsys):
    model, batches, loss_fn, neg_mse = _regression_problem()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    h = utils.fit(model, opt, loss_fn, batches, epochs=200, evaluate=neg_mse, target=-1e-3, metric_name="neg_mse")
    assert h.stopped_early and h.epochs < 200
    assert h.metric[-1] >= -1e-3
    assert len(h.loss) == len(h.metric) == h.epochs
    assert h.loss[-1] < h.loss[0] / 100
    out = capsys.readouterr()
    assert out.out.strip() == f"train: {h.summary()}" and "target reached" in out.out
    # the progress bar text is deterministic: no clock-dependent elapsed time, rate or ETA
    assert "it/s" not in out.err and "<" not in out.err and f"{h.epochs}/200" in out.err


def test_fit_progress_is_identical_across_runs(capsys):
    texts = []
    for _ in range(2):
        model, batches, loss_fn, neg_mse = _regression_problem()
        utils.fit(model, torch.optim.SGD(model.parameters(), lr=0.05), loss_fn, batches, epochs=5, evaluate=neg_mse)
        texts.append(capsys.readouterr())
    assert texts[0] == texts[1]


def test_fit_clips_gradients():
    model, batches, loss_fn, _ = _regression_problem()
    seen = []

    class Spy(torch.optim.SGD):
        def step(self, closure=None):
            seen.append(torch.sqrt(sum((p.grad**2).sum() for p in model.parameters())).item())
            return super().step(closure)

    utils.fit(model, Spy(model.parameters(), lr=1e-3), lambda m, b: 1e4 * loss_fn(m, b), batches,
              epochs=1, clip=0.5, progress_bar=False, verbose=False)
    assert max(seen) <= 0.5 + 1e-5


def test_fit_callable_batches_and_errors():
    model, batches, loss_fn, _ = _regression_problem()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    epochs_seen = []

    def per_epoch(epoch):
        epochs_seen.append(epoch)
        return batches

    utils.fit(model, opt, loss_fn, per_epoch, epochs=3, progress_bar=False, verbose=False)
    assert epochs_seen == [0, 1, 2]
    with pytest.raises(ValueError, match="target needs an evaluate"):
        utils.fit(model, opt, loss_fn, batches, epochs=1, target=0.9)
    with pytest.raises(ValueError, match="epochs"):
        utils.fit(model, opt, loss_fn, batches, epochs=0)
    with pytest.raises(ValueError, match="no batches"):
        utils.fit(model, opt, loss_fn, [], epochs=1, progress_bar=False)
    with pytest.raises(FloatingPointError, match="loss became nan"):
        utils.fit(model, opt, lambda m, b: loss_fn(m, b) * float("nan"), batches, epochs=1, progress_bar=False)


# ------------------------------------------------------------------ checkers
def test_stable_softmax_checker_accepts_reference():
    utils.check_stable_softmax(utils.reference_stable_softmax)


@pytest.mark.parametrize(
    "wrong, match",
    [
        (lambda x: np.exp(x) / np.exp(x).sum(-1, keepdims=True), "large logits.*nan.*Subtract the maximum"),
        (lambda x: np.exp(x - x.max()) / np.exp(x - x.max()).sum(), "batch of 2 rows.*normalise each row"),
        (lambda x: np.exp(x - x.max(-1, keepdims=True)), "small logits.*expected 0.09"),
        (lambda x: x / x.sum(-1, keepdims=True), "small logits"),
        (lambda x: np.exp(x - np.max(x)) / np.exp(x - np.max(x)).sum(-1, keepdims=True), "far apart.*own maximum"),
        (lambda x: np.exp(x - x.max(-1)) / np.exp(x - x.max(-1)).sum(-1), "batch of 2 rows.*raised ValueError.*keepdims=True"),
    ],
)
def test_stable_softmax_checker_rejects_wrong_versions(wrong, match):
    with np.errstate(all="ignore"):
        with pytest.raises(utils.CheckFailed, match=f"(?s){match}"):
            utils.check_stable_softmax(wrong)


def test_check_cases_reports_exceptions_and_not_implemented():
    def boom(x):
        raise KeyError("oops")

    def todo(x):
        raise NotImplementedError

    with pytest.raises(utils.CheckFailed, match="case 'one': raised KeyError"):
        utils.check_cases(boom, [("one", (1,), 1)], name="f")
    with pytest.raises(utils.CheckFailed, match="not implemented yet"):
        utils.check_cases(todo, [("one", (1,), 1)], name="f")


def test_compare_arrays_messages():
    assert compare_arrays(np.ones(3), np.ones(3)) is None
    assert "expected shape (3,), got shape (2,)" in compare_arrays(np.ones(2), np.ones(3))
    assert "at index (1,)" in compare_arrays(np.array([1.0, 5.0]), np.array([1.0, 2.0]))
    assert compare_arrays(torch.ones(2), np.ones(2)) is None


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda v: v.pad_batch([[4, -1]]), "id -1 is outside"),
        (lambda v: v.pad_batch([[4, 999]]), "id 999 is outside"),
        (lambda v: v.pad_batch([[4.7, 5.2]]), "must be integers"),
        (lambda v: v.decode([4.7, 5.2]), "whole numbers"),
        (lambda v: v.decode(["a"]), "whole numbers"),
    ],
)
def test_vocab_rejects_bad_ids(call, match):
    with pytest.raises(ValueError, match=match):
        call(utils.Vocab.build(["ab"]))


def test_vocab_min_count_and_setup_threads_validated():
    with pytest.raises(ValueError, match="min_count"):
        utils.Vocab.build(["ab"], min_count=0)
    with pytest.raises(TypeError, match="threads must be an int"):
        utils.setup(seed=0, threads=2.5)
    utils.setup(seed=0)

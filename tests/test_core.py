"""Tests of the utils core: setup, Vocab, pairs files, metrics, plots, fit, checkers."""
import random

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import utils  # noqa: E402


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
    with pytest.raises(ValueError, match="seed must be an int >= 0, got -1"):
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


def test_exact_match_compares_tokens_at_the_models_level():
    """At word level "x  y" (two spaces) is the tokens x, y: a perfect model must score 1.0, not 0.0."""
    vocab = utils.Vocab.build(["x y z"], level="word")

    class PerfectWordModel:
        tgt_vocab = vocab

        def translate_batch(self, sources):
            return [vocab.join(vocab.tokenize(s)) for s in sources]  # what a word-level model can say

    pairs = [("x  y", "x  y"), ("z", " z "), ("x y", "x\ty")]
    assert utils.exact_match(PerfectWordModel(), pairs) == 1.0
    assert utils.exact_match(PerfectWordModel(), [("x y", "y x")]) == 0.0

    class PerfectCharModel(PerfectWordModel):
        tgt_vocab = utils.Vocab.build(["x y"])

    assert utils.exact_match(PerfectCharModel(), [("x y", "x y"), ("x y", "x  y")]) == 0.5  # spaces count


def test_exact_match_reads_the_level_of_a_real_seq2seq(monkeypatch):
    """The same, through utils.Seq2Seq's own tgt_vocab (so the attribute the metric reads exists)."""
    vocab = utils.Vocab.build(["x y z"], level="word")
    model = utils.Seq2Seq(vocab, vocab)
    monkeypatch.setattr(model, "translate_batch", lambda sources, **kw: ["x y" for _ in sources])
    assert utils.exact_match(model, [("x", "x  y"), ("y", " x y")]) == 1.0
    assert utils.exact_match(model, [("x", "x y z")]) == 0.0


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
    assert ax.get_xlabel() == "epoch" and "loss" in ax.get_ylabel() and ax.get_yscale() == "log"
    (loss_line,) = ax.get_lines()
    assert loss_line.get_xdata().tolist() == [1, 2, 3] and loss_line.get_ydata().tolist() == [1.0, 0.5, 0.2]
    metric_axes = next(other for other in ax.figure.axes if other is not ax)
    assert metric_axes.get_ylabel() == "exact match"
    assert metric_axes.get_lines()[0].get_ydata().tolist() == [0.1, 0.5, 0.9]
    plt.close("all")
    with pytest.raises(ValueError, match="no epochs"):
        utils.plot_history({"loss": []})


@pytest.mark.parametrize("history, error, match", [
    ({}, ValueError, r"a dict with a 'loss' list .*got a dict with keys \[\]"),
    ({"metric": [0.5]}, ValueError, r"got a dict with keys \['metric'\]"),
    ([1.0, 0.5], TypeError, "got list"),
    ({"loss": [1.0, float("nan")]}, ValueError, "history loss is nan at epoch 2: training diverged"),
    ({"loss": [1.0, 0.5], "metric": [0.1, float("inf")]}, ValueError, "history metric is inf at epoch 2"),
])
def test_plot_history_errors(history, error, match):
    with pytest.raises(error, match=match):
        utils.plot_history(history)
    plt.close("all")


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
              epochs=1, clip=0.5, progress=False, verbose=False)
    assert max(seen) <= 0.5 + 1e-5


def test_fit_callable_batches_and_errors():
    model, batches, loss_fn, _ = _regression_problem()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    epochs_seen = []

    def per_epoch(epoch):
        epochs_seen.append(epoch)
        return batches

    utils.fit(model, opt, loss_fn, per_epoch, epochs=3, progress=False, verbose=False)
    assert epochs_seen == [0, 1, 2]
    with pytest.raises(ValueError, match="target needs an evaluate"):
        utils.fit(model, opt, loss_fn, batches, epochs=1, target=0.9)
    with pytest.raises(ValueError, match="epochs"):
        utils.fit(model, opt, loss_fn, batches, epochs=0)
    with pytest.raises(ValueError, match="no batches"):
        utils.fit(model, opt, loss_fn, [], epochs=1, progress=False)
    with pytest.raises(FloatingPointError, match="loss became nan"):
        utils.fit(model, opt, lambda m, b: loss_fn(m, b) * float("nan"), batches, epochs=1, progress=False)


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


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda v: v.decode("45"), TypeError, "got the string '45'"),  # used to decode as [4, 5] -> 'ab'
        (lambda v: v.pad_batch([[[4]]]), ValueError, r"sequence 0 of the batch must be a flat list of ids, got nested"),
        (lambda v: v.pad_batch([[4], [[5, 4]]]), ValueError, "sequence 1 of the batch must be a flat list"),
        (lambda v: v.pad_batch([[2**70]]), ValueError, "id 1180591620717411303424 is outside the vocabulary"),
        (lambda v: v.pad_batch(["ab"]), TypeError, "sequence 0 of the batch is the string 'ab'"),
    ],
)
def test_vocab_refuses_what_it_used_to_misread(call, error, match):
    with pytest.raises(error, match=match):
        call(utils.Vocab.build(["ab"]))


@pytest.mark.parametrize("text, token", [("x </s> y", "</s>"), ("<pad> z", "<pad>"), ("a <s>", "<s>"),
                                         ("<unk>", "<unk>")])
def test_word_level_text_with_a_reserved_token_is_refused(text, token):
    """At word level "x </s> y" would encode </s> as the end token: the model would learn to stop after x."""
    vocab = utils.Vocab.build(["x y z a"], level="word")
    with pytest.raises(ValueError, match=f"pair 7 \\(target\\): {text!r} contains the reserved token '{token}'"):
        vocab.check_text(text, "pair 7 (target)")
    with pytest.raises(ValueError, match=f"contains the reserved token '{token}'"):
        vocab.encode(text)
    with pytest.raises(ValueError, match=f"text 1: {text!r} contains the reserved token '{token}'"):
        utils.Vocab.build(["x y", text], level="word")
    with pytest.raises(ValueError, match=f"pair 1: {text!r} contains the reserved token '{token}'"):
        utils.Vocab.build(["x y", text], level="word", what="pair")


def test_character_level_text_with_angle_brackets_is_fine():
    vocab = utils.Vocab.build(["x </s> y", "<pad> z"])
    assert vocab.check_text("x </s> y", "pair 0") == "x </s> y"
    ids = vocab.encode("x </s> y")
    assert vocab.eos_id not in ids and vocab.pad_id not in ids
    assert vocab.decode(ids) == "x </s> y"


def test_setup_refuses_a_device_the_machine_does_not_have(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="device='cuda' was asked for, but torch finds no CUDA GPU"):
        utils.setup(seed=0, device="cuda")
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        utils.setup(seed=0, device="cuda:0")
    with pytest.raises(ValueError, match="device must be a device name such as 'cpu' or 'cuda', got 'gpu'"):
        utils.setup(seed=0, device="gpu")
    assert utils.setup(seed=0, device="cpu").type == "cpu"
    assert utils.setup(seed=0).type == "cpu"


def test_vocab_min_count_and_setup_threads_validated():
    with pytest.raises(ValueError, match="min_count"):
        utils.Vocab.build(["ab"], min_count=0)
    with pytest.raises(TypeError, match="threads must be an int"):
        utils.setup(seed=0, threads=2.5)
    utils.setup(seed=0)

"""Experiments the chapters share: exposure bias, accuracy by source length, the length sweep."""
from __future__ import annotations

from typing import Sequence

from .datasets import make_task
from .metrics import exact_match, token_accuracy
from .nn.config import ModelConfig
from .nn.model import Seq2Seq, check_pairs
from .nn.train import train_seq2seq
from .validate import positive_int

__all__ = ["teacher_forcing_accuracy", "accuracy_by_length", "length_sweep"]

def teacher_forcing_accuracy(model: Seq2Seq, pairs: Sequence[tuple[str, str]]) -> dict[str, float]:
    """Token accuracy of one model fed the true previous tokens vs its own predictions.

    Returns ``{"teacher_forced": ..., "free_running": ...}``: the share of target tokens
    predicted right (position by position) under teacher forcing, and when greedy decoding
    feeds back the model's own outputs. The gap is what exposure bias costs: the model was
    trained only on true prefixes and never learnt to recover from its own mistakes.

    (Exact match is the *same* in both modes under greedy decoding: a sequence is right
    free-running exactly when every step is right given the true prefix, because then the
    fed-back prefix *is* the true prefix. So the gap shows per token, not per sequence.)
    """
    pairs = check_pairs(pairs)
    targets = [model.tgt_vocab.tokenize(t) for _, t in pairs]
    free = [model.tgt_vocab.tokenize(p) for p in model.translate_batch([s for s, _ in pairs])]
    return {
        "teacher_forced": token_accuracy(model.teacher_forced_tokens(pairs), targets),
        "free_running": token_accuracy(free, targets),
    }


def accuracy_by_length(model, pairs: Sequence[tuple[str, str]]) -> dict[int, float]:
    """Exact match per source length: ``{length in tokens: exact match}``, lengths sorted.

    model: anything ``utils.exact_match`` accepts (has ``translate_batch`` or ``translate``);
    the length is counted in the model's source tokens (characters by default). Each length
    is decoded in one batched call.
    """
    pairs = check_pairs(pairs)
    tokenize = model.src_vocab.tokenize if hasattr(model, "src_vocab") else list
    groups: dict[int, list] = {}
    for pair in pairs:
        groups.setdefault(len(tokenize(pair[0])), []).append(pair)
    return {length: exact_match(model, groups[length]) for length in sorted(groups)}


def length_sweep(
    task: str = "reverse",
    lengths: Sequence[int] = tuple(range(5, 61, 5)),
    *,
    attention=None,
    n_train: int = 4000,
    n_test: int = 100,
    seed: int = 0,
    distinct: bool = False,
    **settings,
) -> tuple[Seq2Seq, dict[int, float]]:
    """Train one model on mixed lengths, then measure exact match at each length.

    task: a synthetic task of ``utils.make_task`` ("copy", "reverse", "sort", "addition").
    Trains ``train_seq2seq`` on ``n_train`` pairs whose source lengths are spread uniformly
    over ``min(lengths)..max(lengths)``, then tests on ``n_test`` fresh pairs at each length
    in ``lengths`` (other seeds than the training data, sources seen in training left out, so
    fewer than ``n_test`` when a length has few unseen strings). ``attention`` and the
    ``settings`` go to ``train_seq2seq`` (hidden_size, epochs, batch_size, lr, cell,
    reverse_source, ...; the defaults are ModelConfig's and TrainConfig's); ``distinct`` goes to
    ``make_task`` (sources without repeated symbols).
    Returns ``(model, {length: exact match})``, e.g. for ``utils.plot``-ing accuracy
    against length; chapter 02 runs it without attention, chapter 03 with.
    """
    lengths = sorted(positive_int("each of lengths", n) for n in lengths)
    if not lengths:
        raise ValueError("lengths is empty: give the source lengths to test at")
    n_train, n_test = positive_int("n_train", n_train), positive_int("n_test", n_test)
    train = make_task(task, n_train, min_len=lengths[0], max_len=lengths[-1], seed=seed, distinct=distinct)
    seen = {s for s, _ in train}
    test = []
    for length in lengths:
        for draws in (2 * n_test, 20 * n_test):  # short lengths have few unseen strings: draw more
            fresh = [p for p in make_task(task, draws, min_len=length, max_len=length,
                                          seed=10_000 + 97 * seed + length, distinct=distinct)
                     if p[0] not in seen]
            if len(fresh) >= n_test:
                break
        if not fresh:
            raise ValueError(f"every {task} source of length {length} occurs in the training data: no test pairs left")
        test.extend(fresh[:n_test])
    hidden = settings.get("hidden_size", ModelConfig().hidden_size)
    settings.setdefault("desc", f"{task} {lengths[0]}..{lengths[-1]}, hidden {hidden}, attention={attention}")
    model = train_seq2seq(train, attention, seed=seed, **settings)
    return model, accuracy_by_length(model, test)

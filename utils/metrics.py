"""Metrics for sequence outputs: exact match, token accuracy, edit distance.

Predictions and targets are strings (compared character by character) or token lists.
"""
from __future__ import annotations

from typing import Sequence

__all__ = ["exact_match", "token_accuracy", "edit_distance"]


def _predict(model, pairs) -> tuple[list, list]:
    """The model's outputs and the targets, as token lists at the model's output level."""
    if len(pairs) == 0:
        raise ValueError("exact_match needs at least one (source, target) pair")
    for i, pair in enumerate(pairs):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValueError(f"pair {i} is not a (source, target) pair: {pair!r}")
    sources = [s for s, _ in pairs]
    targets = [t for _, t in pairs]
    if hasattr(model, "translate_batch"):
        predictions = list(model.translate_batch(sources))
    else:
        predictions = [model.translate(s) for s in sources]
    # Compare what the model can say: at word level "x  y" (two spaces) and "x y" are the same
    # tokens, and a raw string comparison would score a perfect model 0.
    vocab = getattr(model, "tgt_vocab", None)
    if vocab is not None and hasattr(vocab, "tokenize"):
        for i, target in enumerate(targets):
            if not isinstance(target, str):
                raise TypeError(f"pair {i}: the target must be a string, got {type(target).__name__}: {target!r}")
        predictions = [vocab.tokenize(p) for p in predictions]
        targets = [vocab.tokenize(t) for t in targets]
    return predictions, targets


def _check_lengths(predictions: Sequence, targets: Sequence, name: str) -> None:
    if isinstance(predictions, str) or isinstance(targets, str):
        raise TypeError(f"{name} expects lists of sequences; wrap a single string in a list")
    if len(predictions) != len(targets):
        raise ValueError(f"{name}: {len(predictions)} predictions but {len(targets)} targets")
    if len(targets) == 0:
        raise ValueError(f"{name} needs at least one prediction/target")


def exact_match(predictions_or_model, targets_or_pairs) -> float:
    """Share of outputs that equal their target exactly (a float in [0, 1]).

    Either ``exact_match(predictions, targets)`` with two equally long lists (strings compared
    character by character, token lists token by token), or ``exact_match(model, pairs)``
    where ``model`` has ``translate`` (or ``translate_batch``) and ``pairs`` is a list of
    (source, target); outputs and targets are then compared as token sequences at the model's
    output level (``model.tgt_vocab.tokenize``), so at word level spacing does not count.
    """
    if hasattr(predictions_or_model, "translate") or hasattr(predictions_or_model, "translate_batch"):
        predictions, targets = _predict(predictions_or_model, targets_or_pairs)
    else:
        predictions, targets = predictions_or_model, targets_or_pairs
    _check_lengths(predictions, targets, "exact_match")
    return sum(list(p) == list(t) for p, t in zip(predictions, targets)) / len(targets)


def token_accuracy(predictions: Sequence[Sequence], targets: Sequence[Sequence]) -> float:
    """Share of target positions where the prediction has the same token.

    Position-wise over each target's length: a prediction that is too short misses the
    remaining positions, one that is too long gains nothing.
    """
    _check_lengths(predictions, targets, "token_accuracy")
    correct = total = 0
    for p, t in zip(predictions, targets):
        total += len(t)
        correct += sum(a == b for a, b in zip(p, t))
    if total == 0:
        raise ValueError("token_accuracy: all targets are empty")
    return correct / total


def edit_distance(a: Sequence, b: Sequence) -> int:
    """Levenshtein distance: the fewest insertions, deletions and substitutions that turn
    ``a`` into ``b``. Works on strings and on token lists.

    >>> edit_distance("kitten", "sitting")
    3
    """
    a, b = list(a), list(b)
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, start=1):
        current = [i]
        for j, y in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]

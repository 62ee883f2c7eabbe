"""Training a seq2seq model in one call: :func:`train_seq2seq`.

    model = train_seq2seq(pairs, attention="dot")                        # the defaults
    model = train_seq2seq(pairs, attention="bahdanau", hidden_size=128, epochs=8)
    model = train_seq2seq(pairs, model=ModelConfig(layers=4, residual=True), training=TrainConfig(lr=3e-3))
    model = train_seq2seq(cmudict_pairs, src_level="char", tgt_level="word")   # letters in, phonemes out

The settings live in two objects, :class:`utils.ModelConfig` (the network) and
:class:`utils.TrainConfig` (the optimisation); any of their fields may also be given by name.
Each default is stated once, in those classes.
"""
from __future__ import annotations

from typing import Sequence

import torch

from ..metrics import exact_match
from ..repro import pick_device, seed_everything
from ..training import fit
from ..validate import boolean, finite_float, one_of, positive_int
from ..vocab import Vocab
from .config import ModelConfig, TrainConfig, split_settings
from .model import Batch, Seq2Seq, check_pairs

__all__ = ["train_seq2seq", "make_batches"]


def make_batches(model: Seq2Seq, pairs: Sequence[tuple[str, str]], batch_size: int, seed: int = 0):
    """``batches(epoch) -> list[Batch]`` for :func:`utils.fit`: all pairs, reshuffled each epoch.

    Pairs are encoded and padded once. Each epoch shuffles them, sorts windows of 20 batches
    by source length (so a batch holds similar lengths and little padding) and shuffles the
    batch order.
    """
    batch_size = positive_int("batch_size", batch_size)
    full = model.make_batch(pairs)
    n = len(full)
    tgt_lengths = (full.tgt_out != model.tgt_vocab.pad_id).sum(1)

    def batches(epoch: int) -> list[Batch]:
        g = torch.Generator().manual_seed(seed * 100_003 + epoch)
        perm = torch.randperm(n, generator=g)
        window = batch_size * 20
        out = []
        for w in range(0, n, window):
            idx = perm[w:w + window]
            idx = idx[torch.argsort(full.src_lengths[idx], stable=True)]
            for b in range(0, len(idx), batch_size):
                i = idx[b:b + batch_size]
                s_len, t_len = int(full.src_lengths[i].max()), int(tgt_lengths[i].max())
                out.append(Batch(full.src_ids[i, :s_len], full.src_lengths[i], full.tgt_in[i, :t_len],
                                 full.tgt_out[i, :t_len]))
        order = torch.randperm(len(out), generator=g).tolist()
        return [out[k] for k in order]

    return batches


def _check_reserved(pairs, src_level: str, tgt_level: str) -> None:
    """Refuse data that spells a reserved token (word level): ``"x </s> y"`` would teach the model to stop."""
    reserved = set(Vocab.SPECIALS)
    for i, (source, target) in enumerate(pairs):
        for side, text, level in (("source", source, src_level), ("target", target, tgt_level)):
            if level != "word":
                continue  # at character level "<" is one character: no token can be spelt
            found = sorted(reserved & set(text.split()))
            if found:
                raise ValueError(f"pairs[{i}] {side} {text!r} contains the reserved token(s) {found}: the model would "
                                 "read them as control tokens (padding, start, end); rename them in the data")


def _describe(attention) -> str:
    if attention is None:
        return "no attention"
    return attention if isinstance(attention, str) else "attention"


def train_seq2seq(
    pairs: Sequence[tuple[str, str]],
    attention=None,
    *,
    valid_pairs: Sequence[tuple[str, str]] | None = None,
    target: float | None = None,
    src_level: str = "char",
    tgt_level: str = "char",
    model: ModelConfig | None = None,
    training: TrainConfig | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
    verbose: bool = True,
    desc: str | None = None,
    **settings,
) -> Seq2Seq:
    """Build a :class:`utils.Seq2Seq` for ``pairs`` and train it with teacher forcing.

    pairs: list of (source, target) strings. src_level / tgt_level: "char" (each character a
        token) or "word" (whitespace-separated tokens), for each side.
    attention: None (the plain encoder-decoder), a preset name ("dot", "bahdanau",
        "luong-general", ...; see ``utils.ATTENTION_PRESETS``) or a ``utils.AttentionConfig``.
    model / training: a :class:`utils.ModelConfig` / :class:`utils.TrainConfig` (defaults when
        None); ``settings`` are fields of either by name and override them (``hidden_size=16``,
        ``epochs=8``, ``bidirectional=True``, ...).
    valid_pairs: held-out pairs whose exact match (greedy decoding) is measured after each epoch;
        ``target`` stops training once that reaches it.
    device: default CUDA when available, else CPU. progress / verbose: the bar and the summary line.
    Returns the trained model (in eval mode); ``model.history`` is the :class:`utils.History`.
    The output cap ``model.max_output_len`` is the longest training target + 10 tokens.
    """
    pairs = check_pairs(pairs)
    if valid_pairs is not None:
        valid_pairs = check_pairs(valid_pairs, "valid_pairs")
    if target is not None:
        if valid_pairs is None:
            raise ValueError("target needs valid_pairs to measure the exact match on")
        target = finite_float("target", target, low=0.0, high=1.0)
    one_of("src_level", src_level, ("char", "word"))
    one_of("tgt_level", tgt_level, ("char", "word"))
    progress, verbose = boolean("progress", progress), boolean("verbose", verbose)
    model_settings, train_settings = split_settings(settings)
    if attention is not None:
        if "attention" in model_settings or (model is not None and model.attention is not None):
            raise TypeError("attention is given twice (as the argument and in the model settings)")
        model_settings["attention"] = attention
    for name, value, cls in (("model", model, ModelConfig), ("training", training, TrainConfig)):
        if value is not None and not isinstance(value, cls):
            raise TypeError(f"{name} must be a utils.{cls.__name__}, got {type(value).__name__}")
    config = (model or ModelConfig()).replace(**model_settings)
    train_config = (training or TrainConfig()).replace(**train_settings)

    seed_everything(train_config.seed)
    _check_reserved(pairs, src_level, tgt_level)
    src_vocab = Vocab.build([s for s, _ in pairs], level=src_level)
    tgt_vocab = Vocab.build([t for _, t in pairs], level=tgt_level)
    max_output_len = max(len(tgt_vocab.tokenize(t)) for _, t in pairs) + 10
    net = Seq2Seq(src_vocab, tgt_vocab, config, max_output_len=max_output_len)
    net.to(device if isinstance(device, torch.device) else pick_device(device))
    optimizer = torch.optim.Adam(net.parameters(), lr=train_config.lr)
    # Constant, then a linear decay over the last decay_epochs epochs; stepped once per epoch.
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, train_config.lr_factor)
    evaluate = (lambda m: exact_match(m, valid_pairs)) if valid_pairs is not None else None
    net.history = fit(
        net, optimizer, lambda m, batch: m.loss(batch), make_batches(net, pairs, train_config.batch_size,
                                                                      train_config.seed),
        epochs=train_config.epochs, clip=train_config.clip, evaluate=evaluate, target=target,
        metric_name="valid exact", scheduler=scheduler,
        desc=desc or f"seq2seq ({_describe(attention)})",
        progress=progress, verbose=verbose,
    )
    return net

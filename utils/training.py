"""The training loop every chapter shares: ``fit``.

``fit`` runs epochs of mini-batch gradient descent and keeps what a reader wants to see:

* a progress bar (tqdm) over epochs, whose text depends only on the numbers trained, not on
  the clock, so the stored notebook output is the same on every run (strict nbval);
* the history of the mean training loss and of a metric per epoch (for ``plot_history``);
* gradient-norm clipping, which keeps RNN training stable when gradients explode;
* early stopping once the metric reaches a target, so runs take no longer than needed.

>>> history = fit(model, optimizer, loss_fn, batches, epochs=20,
...               evaluate=lambda m: exact_match(m, valid_pairs), target=0.99)
"""
from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import torch
from tqdm.std import tqdm as _tqdm_text

from .validate import boolean, finite_float, positive_float, positive_int

__all__ = ["fit", "History", "progress_bar"]


@dataclass
class History:
    """What happened during ``fit``: one entry per epoch."""

    loss: list[float] = field(default_factory=list)    # mean training loss of each epoch
    metric: list[float] = field(default_factory=list)  # evaluate(model) after each epoch
    metric_name: str = "metric"
    stopped_early: bool = False
    seconds: float = 0.0  # wall-clock time; never printed in a compared notebook cell

    @property
    def epochs(self) -> int:
        return len(self.loss)

    def summary(self) -> str:
        """One line, no timings, e.g. ``12 epochs, loss 0.0123, exact 0.995 (target reached)``."""
        text = f"{self.epochs} epochs, loss {self.loss[-1]:.4f}" if self.loss else "0 epochs"
        if self.metric:
            text += f", {self.metric_name} {self.metric[-1]:.3f}"
        if self.stopped_early:
            text += " (target reached)"
        return text


def progress_bar(iterable: Iterable | None = None, total: int | None = None, desc: str = "", enable: bool = True):
    """A tqdm bar whose printed text is deterministic.

    No elapsed time, rate or ETA in the text and redraws driven by counts, not the clock, so
    the stored output of a notebook does not change between runs.
    """
    return _tqdm_text(
        iterable,
        total=total,
        desc=desc,
        disable=not enable,
        file=sys.stderr,
        ncols=None,
        bar_format="{desc}: {percentage:3.0f}%|{bar:20}| {n_fmt}/{total_fmt}{postfix}",
        mininterval=0,
        miniters=1,
        maxinterval=math.inf,
        dynamic_ncols=False,
        leave=True,
    )


def _batches_for(batches, epoch: int) -> Iterable:
    return batches(epoch) if callable(batches) else batches


def fit(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[[torch.nn.Module, Any], torch.Tensor],
    batches: Iterable | Callable[[int], Iterable],
    *,
    epochs: int,
    clip: float | None = 1.0,
    evaluate: Callable[[torch.nn.Module], float] | None = None,
    target: float | None = None,
    metric_name: str = "metric",
    scheduler: Any = None,
    desc: str = "train",
    progress: bool = True,
    verbose: bool = True,
) -> History:
    """Train ``model`` for up to ``epochs`` epochs and return its :class:`History`.

    loss_fn(model, batch) -> scalar loss tensor for one batch (``fit`` does zero_grad,
        backward, gradient clipping and the optimizer step).
    batches: a re-iterable of batches (e.g. a list) or a callable ``batches(epoch)`` that
        returns the batches of that epoch (for reshuffling).
    clip: maximum global gradient norm (None: no clipping).
    evaluate(model) -> float, run after each epoch in eval mode under ``torch.no_grad()``.
    target: stop as soon as the metric is >= target (needs ``evaluate``).
    scheduler: a ``torch.optim.lr_scheduler`` stepped once at the end of every epoch (or None).
    progress: show the progress bar (the name train_seq2seq uses too). Prints one summary line
    at the end when ``verbose``.
    """
    epochs = positive_int("epochs", epochs)
    if target is not None:
        if evaluate is None:
            raise ValueError("target needs an evaluate function to compare against")
        target = finite_float("target", target)
    if clip is not None:
        clip = positive_float("clip", clip)  # clip=nan would pass `clip <= 0` and give NaN weights
    for group in optimizer.param_groups:
        positive_float("the optimizer's lr", group["lr"])
    history = History(metric_name=metric_name)
    start = time.perf_counter()
    # Flush what was printed before the bar (stdout) and, below, the bar itself (stderr), so a
    # notebook receives the two streams in the same order on every run (strict nbval).
    sys.stdout.flush()
    bar = progress_bar(total=epochs, desc=desc, enable=boolean("progress", progress))
    try:
        for epoch in range(epochs):
            model.train()
            total, count = 0.0, 0
            for batch in _batches_for(batches, epoch):
                loss = loss_fn(model, batch)
                if not isinstance(loss, torch.Tensor) or loss.dim() != 0:
                    raise TypeError("loss_fn must return a scalar tensor")
                if not torch.isfinite(loss):
                    raise FloatingPointError(
                        f"loss became {loss.item()} in epoch {epoch + 1}: lower the learning rate or clip gradients"
                    )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if clip is not None:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
                optimizer.step()
                total += loss.item()
                if not math.isfinite(total):
                    raise FloatingPointError(
                        f"loss became {total} in epoch {epoch + 1}: lower the learning rate or clip gradients")
                count += 1
            if count == 0:
                raise ValueError(f"epoch {epoch + 1} had no batches")
            bad = [name for name, p in model.named_parameters() if not torch.isfinite(p).all()]
            if bad:
                raise FloatingPointError(
                    f"after epoch {epoch + 1} the parameters {bad[:3]} hold NaN or inf: the learning rate "
                    f"({optimizer.param_groups[0]['lr']}) is probably too high, or a gradient exploded (clip it)")
            if scheduler is not None:
                scheduler.step()
            history.loss.append(total / count)
            postfix = f" loss={history.loss[-1]:.4f}"
            if evaluate is not None:
                model.eval()
                with torch.no_grad():
                    value = float(evaluate(model))
                if not math.isfinite(value):
                    raise FloatingPointError(f"evaluate returned {value} after epoch {epoch + 1}: the metric must be "
                                             "a finite number (check the model and the evaluate function)")
                history.metric.append(value)
                postfix += f" {metric_name}={value:.3f}"
            bar.set_postfix_str(postfix.strip(), refresh=False)
            bar.update(1)
            if target is not None and history.metric[-1] >= target:
                history.stopped_early = True
                break
    finally:
        bar.close()
        sys.stderr.flush()
        model.eval()
    history.seconds = time.perf_counter() - start
    if verbose:
        print(f"{desc}: {history.summary()}")
    return history

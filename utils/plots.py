"""Figures the chapters share: attention heatmaps and training curves."""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

__all__ = ["plot_attention", "plot_history"]


def _as_numpy(weights) -> np.ndarray:
    if hasattr(weights, "detach"):
        weights = weights.detach().cpu().numpy()
    return np.asarray(weights, dtype=float)


def plot_attention(weights, src_tokens: Sequence[str], out_tokens: Sequence[str], ax=None, title: str | None = None,
                   cbar: bool = True):
    """Heatmap of attention ``weights`` (out_len, src_len): source tokens on x, outputs on y.

    Row i shows where output token i looked; each row of attention weights sums to 1.
    Returns the matplotlib Axes.
    """
    w = _as_numpy(weights)
    if w.ndim != 2:
        raise ValueError(f"weights must be 2-D (out_len, src_len), got shape {w.shape}")
    if w.shape != (len(out_tokens), len(src_tokens)):
        raise ValueError(
            f"weights have shape {w.shape} but there are {len(out_tokens)} output and "
            f"{len(src_tokens)} source tokens: expected ({len(out_tokens)}, {len(src_tokens)})"
        )
    if not np.all(np.isfinite(w)):
        raise ValueError("weights contain NaN or inf")
    if ax is None:
        _, ax = plt.subplots(figsize=(0.35 * len(src_tokens) + 2, 0.35 * len(out_tokens) + 1.2))
    show = lambda toks: ["␣" if t == " " else t for t in toks]  # noqa: E731  make spaces visible
    sns.heatmap(w, ax=ax, vmin=0.0, vmax=1.0, cmap="viridis", cbar=cbar, square=False,
                xticklabels=show(src_tokens), yticklabels=show(out_tokens), linewidths=0)
    ax.set_xlabel("source token (attended to)")
    ax.set_ylabel("output token")
    ax.tick_params(axis="x", rotation=0)
    ax.tick_params(axis="y", rotation=0)
    if title:
        ax.set_title(title)
    return ax


def plot_history(history, ax=None, title: str | None = None):
    """Training loss (left axis, log scale) and the metric (right axis) per epoch.

    ``history`` is a :class:`utils.training.History` or a dict with ``loss`` and optionally
    ``metric`` lists. Returns the loss Axes.
    """
    if isinstance(history, dict):
        if "loss" not in history:
            raise ValueError("history must be a utils.History or a dict with a 'loss' list (and optionally "
                             f"'metric' and 'metric_name'), got a dict with keys {sorted(history)}")
        loss, metric = history["loss"], history.get("metric", [])
        name = history.get("metric_name", "metric")
    elif hasattr(history, "loss"):
        loss, metric = history.loss, getattr(history, "metric", [])
        name = getattr(history, "metric_name", "metric")
    else:
        raise TypeError(f"history must be a utils.History (model.history) or a dict with a 'loss' list, "
                        f"got {type(history).__name__}")
    loss = np.asarray(loss, dtype=float)
    metric = np.asarray(metric, dtype=float)
    if loss.ndim != 1 or len(loss) == 0:
        raise ValueError("history has no epochs to plot")
    for what, values in (("loss", loss), ("metric", metric)):
        if values.size and not np.all(np.isfinite(values)):
            epoch = int(np.argwhere(~np.isfinite(values))[0][0]) + 1
            raise ValueError(f"history {what} is {values[epoch - 1]} at epoch {epoch}: training diverged "
                             "(a learning rate too large?), so there is no curve to draw")
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3))
    epochs = np.arange(1, len(loss) + 1)
    ax.plot(epochs, loss, "o-", color="tab:blue", label="training loss")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss (log scale)", color="tab:blue")
    if len(metric):
        ax2 = ax.twinx()
        ax2.plot(epochs[: len(metric)], metric, "s--", color="tab:orange", label=name)
        ax2.set_ylabel(name, color="tab:orange")
        ax2.set_ylim(0, 1.05 if max(metric) <= 1 else None)
    ax.set_title(title or "Training curve")
    return ax

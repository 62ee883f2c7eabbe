"""Reproducibility and device choice: the first call of every notebook.

Every chapter starts with ``device = utils.setup(seed=0)``. It

* seeds Python's ``random``, NumPy's global generator and torch, so every run draws the
  same numbers;
* sets torch to **one thread**. By default torch uses one thread per core, so the same code
  would run with different thread counts on different machines, and a sum split over a
  different number of threads can differ in its last digits (floating-point addition is not
  associative): stored notebook outputs would then not reproduce everywhere. For the small
  GRU/LSTM models of this course a second thread also buys nothing (chapter 00 times it),
  and on a 2-core machine that is busy with other work it was measured to be much slower;
* returns the device to put models on: CUDA when a GPU is present, else the CPU.
"""
from __future__ import annotations

import os
import random

import numpy as np
import torch

__all__ = ["setup", "seed_everything", "pick_device"]


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and CUDA)."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)
    torch.manual_seed(int(seed))  # also seeds every CUDA device


def pick_device(prefer: str | None = None) -> torch.device:
    """Return ``cuda`` when available (or ``prefer`` when given), else ``cpu``."""
    if prefer is not None:
        return torch.device(prefer)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def setup(seed: int = 0, threads: int = 1, device: str | None = None) -> torch.device:
    """Seed everything, use ``threads`` torch threads (default 1) and return the device.

    >>> device = setup(seed=0)
    >>> torch.get_num_threads()
    1
    """
    if not isinstance(threads, (int, np.integer)) or isinstance(threads, bool):
        raise TypeError(f"threads must be an int, got {type(threads).__name__}: {threads!r}")
    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    seed_everything(seed)
    torch.set_num_threads(int(threads))
    # Also tell BLAS libraries started later (e.g. by NumPy in a subprocess) to use one thread.
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    return pick_device(device)

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

from .validate import nonnegative_int, positive_int

__all__ = ["setup", "seed_everything", "pick_device"]


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and CUDA)."""
    seed = nonnegative_int("seed", seed)
    random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)
    torch.manual_seed(int(seed))  # also seeds every CUDA device


def pick_device(prefer: str | None = None) -> torch.device:
    """Return ``prefer`` when given (it must exist on this machine), else ``cuda`` when available, else ``cpu``.

    Asking for a device this machine does not have is an error now, not a failure later at the
    first tensor moved there.
    """
    if prefer is not None:
        try:
            device = torch.device(prefer)
        except (RuntimeError, TypeError) as err:
            raise ValueError(f"device must be a device name such as 'cpu' or 'cuda', got {prefer!r} ({err})") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"device={prefer!r} was asked for, but torch finds no CUDA GPU on this machine "
                               "(torch.cuda.is_available() is False); pass device=None to use one when present, "
                               "or device='cpu'")
        if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
            raise RuntimeError(f"device={prefer!r}: this machine has {torch.cuda.device_count()} CUDA GPU(s)")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise RuntimeError(f"device={prefer!r} was asked for, but the Apple MPS backend is not available here")
        return device
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def setup(seed: int = 0, threads: int = 1, device: str | None = None) -> torch.device:
    """Seed everything, use ``threads`` torch threads (default 1) and return the device.

    >>> device = setup(seed=0)
    >>> torch.get_num_threads()
    1
    """
    threads = positive_int("threads", threads)
    device = pick_device(device)  # before seeding: a bad device changes nothing
    seed_everything(seed)
    torch.set_num_threads(threads)
    # Also tell BLAS libraries started later (e.g. by NumPy in a subprocess) to use one thread.
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    from .fonts import register_hangul_font  # Hangul in figures (Korean dates), Latin text unchanged
    register_hangul_font()
    return device

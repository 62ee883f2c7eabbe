"""Benchmark: how fast ``train_seq2seq(pairs, attention="dot")`` learns the dates, as a reader calls it.

``python -m tools.bench`` (what ``make bench`` runs) trains the default attention model on
the 20,000 date training pairs with one torch thread and the defaults a reader gets (no
early stopping unless ``--target`` is given), then measures the exact match on the test
split and prints the training seconds (wall clock and CPU) and the accuracies. The goal:
at least 0.999 exact match in at most 10 s of single-thread CPU training. A benchmark to
compare machines and changes, not a timed test: the seconds depend on the machine and how
busy it is (CPU seconds less so than wall-clock ones).

Options: ``--seed``, ``--target`` (validation exact match to stop at; default: none),
``--epochs`` (the most epochs to train), ``--threads``, ``--cell``, ``--hidden-size``.
"""
from __future__ import annotations

import argparse
import sys
import time

__all__: list[str] = []  # a command, nothing to export


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--target", type=float, default=None, help="validation exact match to stop at (default: none)")
    parser.add_argument("--epochs", type=int, default=None, help="the most epochs to train (default: train_seq2seq's)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cell", default=None, help="gru or lstm (default: train_seq2seq's)")
    parser.add_argument("--hidden-size", type=int, default=None)
    args = parser.parse_args(argv)

    from utils import exact_match, load_dates, setup, train_seq2seq

    device = setup(seed=args.seed, threads=args.threads)
    train, valid, test = load_dates("train"), load_dates("valid"), load_dates("test")
    options = {k: v for k, v in (("cell", args.cell), ("hidden_size", args.hidden_size), ("epochs", args.epochs))
               if v is not None}
    stop = f"stop at valid exact match >= {args.target}" if args.target is not None else "the default epochs"
    print(f"train_seq2seq on {len(train):,} date pairs, attention='dot', device {device}, "
          f"{args.threads} thread(s), {stop}", flush=True)
    start = time.perf_counter()
    cpu_start = time.process_time()
    early = dict(valid_pairs=valid, target=args.target) if args.target is not None else {}
    model = train_seq2seq(train, "dot", seed=args.seed, device=device, **early, **options)
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    accuracy = exact_match(model, test)
    print(model)
    print(f"epochs trained:            {model.history.epochs}")
    print(f"valid exact match:         {exact_match(model, valid):.4f}")
    print(f"test exact match:          {accuracy:.4f}")
    print(f"training time:             {seconds:.1f} s wall clock ({cpu_seconds:.1f} s CPU)")
    if accuracy < 0.99:
        print(f"test exact match {accuracy:.4f} is below 0.99", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

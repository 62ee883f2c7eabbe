"""Benchmark: how much slower is a Bahdanau training step than a Luong one? (chapter 04)

``python -m tools.bench_placement`` builds models that differ only in their attention (same
data, sizes, cell and seed), takes **one batch** of a long synthetic task (copy, 40 symbols:
41 decoder steps) and times full training steps on it (forward, loss, backward, Adam update)
with one torch thread. The variants are timed round-robin, so a burst of load on the machine
hits all of them alike, and each reports the median of ``--steps`` steps.

Where attention sits decides the speed: Bahdanau's query is the previous decoder state and its
context enters the RNN step, so the decoder runs one step after another even under teacher
forcing; Luong's decoder without input feeding runs its RNN over all steps in one call and
attends in one batched product. ``luong-concat`` has Bahdanau's additive score, so
``bahdanau / luong-concat`` changes the placement only; ``luong-general + feeding`` (input feeding) shows
that input feeding brings the step loop back.

Prints one line per variant (median ms per step, the ratio to Bahdanau) and exits with status
1 when ``bahdanau / luong-general`` (Luong's global attention without input feeding, the
course's default Luong model) is below ``--goal`` (default 3). The placement-only ratio
``bahdanau / luong-concat`` is printed beside it: it is smaller, because the additive score
itself costs a tanh over a (batch, T, S, A) array whichever way it is placed. Options: ``--length``,
``--batch-size``, ``--hidden-size``, ``--steps``, ``--seed``, ``--threads``, ``--goal``.
"""
from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time

__all__: list[str] = []  # a command, nothing to export


def variants() -> dict:
    """The attention variants timed, by display name."""
    from utils import ATTENTION_PRESETS

    return {
        "bahdanau": "bahdanau",
        "luong-concat": "luong-concat",
        "luong-dot": "luong-dot",
        "luong-general": "luong-general",
        "luong-general + feeding": dataclasses.replace(ATTENTION_PRESETS["luong-general"], input_feeding=True),
    }


def time_steps(models: dict, batch, steps: int, warmup: int = 2) -> dict[str, float]:
    """Median seconds of one training step per model, timed round-robin on the same ``batch``."""
    import torch

    optimizers = {name: torch.optim.Adam(model.parameters(), lr=1e-3) for name, model in models.items()}
    times: dict[str, list[float]] = {name: [] for name in models}
    for round_ in range(warmup + steps):
        for name, model in models.items():
            model.train()
            start = time.perf_counter()
            optimizers[name].zero_grad()
            model.loss(batch).backward()
            optimizers[name].step()
            if round_ >= warmup:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--length", type=int, default=40, help="source and target length of the copy task")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--hidden-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=15, help="timed steps per variant (after 2 warm-up steps)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--goal", type=float, default=3.0, help="the least bahdanau / luong-general ratio to pass")
    args = parser.parse_args(argv)

    import torch

    from utils import Seq2Seq, Vocab, make_task, setup

    setup(seed=args.seed, threads=args.threads)
    pairs = make_task("copy", args.batch_size, min_len=args.length, max_len=args.length, seed=args.seed)
    src_vocab = Vocab.build([s for s, _ in pairs])
    tgt_vocab = Vocab.build([t for _, t in pairs])
    models = {}
    for name, attention in variants().items():
        torch.manual_seed(args.seed)
        models[name] = Seq2Seq(src_vocab, tgt_vocab, hidden_size=args.hidden_size, attention=attention)
    batch = next(iter(models.values())).make_batch(pairs)
    print(f"one batch of {args.batch_size} copy pairs, {args.length} symbols ({args.length + 1} decoder steps), "
          f"hidden {args.hidden_size}, {args.threads} thread(s); median of {args.steps} training steps", flush=True)
    seconds = time_steps(models, batch, args.steps)
    for name, s in seconds.items():
        print(f"  {name:30s} {1000 * s:7.1f} ms/step   bahdanau is {seconds['bahdanau'] / s:4.1f}x this"
              f"   ({models[name].num_parameters():,} parameters)")
    placement_only = seconds["bahdanau"] / seconds["luong-concat"]
    ratio = seconds["bahdanau"] / seconds["luong-general"]
    print(f"bahdanau / luong-concat (same additive score, placement only): {placement_only:.1f}x")
    print(f"bahdanau / luong-general (Luong without input feeding):        {ratio:.1f}x (goal >= {args.goal})")
    if ratio < args.goal:
        print(f"the ratio {ratio:.2f} is below the goal {args.goal}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

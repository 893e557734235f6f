"""Training throughput of ``vaecourse.train.fit`` on the classic 784-400-20 MLP VAE.

    uv run python benchmarks/train_speed.py [--threads 1 2] [--epochs 5] [--repeats 3]

Compares ``fit`` (distributions, loss terms, history, progress bar off) with a bare hand-written loop
doing the same arithmetic (BCE with logits + closed-form KL, Adam, batch 128) on the embedded
MNIST training split, and writes the median images per second to benchmarks/train_speed.md.
The bare loop with one thread is also the calibration workload of benchmarks/run_notebooks.py
(docs/design.md, section 7). Each configuration runs in a fresh process; run on a quiet machine.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "train_speed.md"


def measure(loop: str, threads: int, epochs: int) -> float:
    import torch
    import torch.nn.functional as F
    from torch import nn

    import vaecourse as vc

    vc.setup_notebook(seed=0, threads=threads, verbose=False)
    x, _ = vc.data.load_mnist()
    if loop == "fit":
        model = vc.models.VAE(latent_dim=20, hidden=(400,))
        vc.train.fit(model, x, epochs=1, progress=False)  # warm-up
        history = vc.train.fit(model, x, epochs=epochs, progress=False)
        return history.examples_per_second
    encoder = nn.Sequential(nn.Linear(784, 400), nn.ReLU(), nn.Linear(400, 40))
    decoder = nn.Sequential(nn.Linear(20, 400), nn.ReLU(), nn.Linear(400, 784))
    optimizer = torch.optim.Adam([*encoder.parameters(), *decoder.parameters()], lr=1e-3)
    flat = x.flatten(1)
    seconds = 0.0
    for epoch in range(epochs + 1):  # epoch 0 is the warm-up
        start = time.perf_counter()
        for index in torch.randperm(len(flat)).split(128):
            batch = flat[index]
            mu, logvar = encoder(batch).chunk(2, dim=-1)
            z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
            nll = F.binary_cross_entropy_with_logits(decoder(z), batch, reduction="none").sum(-1)
            kl = 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).sum(-1)
            loss = (nll + kl).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        if epoch > 0:
            seconds += time.perf_counter() - start
    return epochs * len(flat) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)  # internal: loop threads
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one[0], int(args.one[1]), args.epochs)))
        return
    rows = []
    for threads in args.threads:
        medians = {}
        for loop in ("fit", "bare"):
            runs = []
            for _ in range(args.repeats):
                env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
                out = subprocess.run([sys.executable, __file__, "--epochs", str(args.epochs), "--one", loop,
                                      str(threads)], capture_output=True, text=True, check=True, env=env)
                runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
            medians[loop] = statistics.median(runs)
            print(f"threads {threads}, {loop}: {[round(r) for r in runs]} images/s", file=sys.stderr)
        rows.append(f"| {threads} | {medians['fit']:,.0f} | {medians['bare']:,.0f} | {medians['fit'] / medians['bare']:.2f} |")
    import torch

    RESULTS.write_text(
        "# Training throughput\n\n"
        f"Written by `uv run python benchmarks/train_speed.py` on {datetime.date.today().isoformat()}: the "
        "784-400-20 MLP VAE (Bernoulli likelihood, Adam, batch 128) on the 4,000 embedded MNIST training "
        f"images, {args.epochs} epochs after one warm-up epoch, median of {args.repeats} fresh processes. "
        f"Machine: {os.cpu_count()} CPU cores, torch {torch.__version__}. The bare loop with one thread is "
        "the calibration workload of `benchmarks/run_notebooks.py` (docs/design.md, section 7). The bare loop uses torch's default Adam, as "
        "pytorch/examples does; `fit` uses the fused Adam kernel.\n\n"
        "| torch threads | `vc.train.fit` images/s | bare loop images/s | fit / bare |\n| ---: | ---: | ---: | ---: |\n"
        + "\n".join(rows) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

"""What the grading sandbox costs: each assignment's model solution executed in a sandboxed and in an ordinary kernel.

    uv run python benchmarks/sandbox_overhead.py            # 3 runs of each, alternating; writes the table to benchmarks/sandbox_overhead.md
    uv run python benchmarks/sandbox_overhead.py --runs 5

A submission's grading time is nbgrader's work (the same with and without the sandbox) plus the execution of the
notebook in a kernel, which is what the sandbox changes (copying the submission's folder, starting bubblewrap, the
caps). This measures that execution, kernel start to shutdown, for each assignment's stored solution, in the same
process, alternating sandboxed and ordinary runs so that a drift of the machine hits both alike. The issue's target:
the sandboxed time at most 1.5 times the ordinary one. Run it on a quiet machine (docs/design.md, section 7).
"""

from __future__ import annotations

import argparse
import datetime
import platform
import statistics
import tempfile
import time
from pathlib import Path

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

from vaecourse.config import thread_environment
from vaecourse.sandbox import SandboxedKernelManager, find_bubblewrap

ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 1.5


def execute_seconds(notebook_path: Path, manager_class) -> float:
    nb = nbformat.read(notebook_path, as_version=4)
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        NotebookClient(nb, kernel_manager_class=manager_class, kernel_name="python3", timeout=300, allow_errors=True,
                       resources={"metadata": {"path": folder}}).execute()
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "sandbox_overhead.md")
    args = parser.parse_args()
    if not find_bubblewrap():
        raise SystemExit("bubblewrap (bwrap) is not installed: nothing to measure (sudo apt-get install bubblewrap)")
    import os

    os.environ.update(thread_environment(1))  # kernels inherit it: one torch thread, as in the test suite
    rows = []
    for path in sorted(ROOT.glob("solutions/q*/q*.ipynb")):
        times = {"ordinary": [], "sandboxed": []}
        for _ in range(args.runs):
            times["ordinary"].append(execute_seconds(path, AsyncKernelManager))
            times["sandboxed"].append(execute_seconds(path, SandboxedKernelManager))
        ordinary, sandboxed = statistics.median(times["ordinary"]), statistics.median(times["sandboxed"])
        rows.append((path.relative_to(ROOT).as_posix(), ordinary, sandboxed, sandboxed / ordinary))
        print(f"{rows[-1][0]}: ordinary {ordinary:.2f} s, sandboxed {sandboxed:.2f} s, ratio {sandboxed / ordinary:.2f}")
    total_ordinary, total_sandboxed = sum(r[1] for r in rows), sum(r[2] for r in rows)
    ratio = total_sandboxed / total_ordinary
    lines = ["# Grading sandbox: what it costs", "",
             f"Written by `uv run python benchmarks/sandbox_overhead.py` on {datetime.date.today()} "
             f"({platform.machine()}, {os.cpu_count()} cores, one torch thread): each assignment's stored solution "
             f"executed {args.runs} times in an ordinary kernel and {args.runs} times in a sandboxed one "
             "(vaecourse/sandbox.py), alternating, kernel start to shutdown; medians. nbgrader's own work per "
             "submission is the same either way and is not included, so the ratio for a whole autograde is lower.",
             "", "| notebook | ordinary s | sandboxed s | ratio |", "| --- | ---: | ---: | ---: |"]
    lines += [f"| `{name}` | {o:.2f} | {s:.2f} | {r:.2f} |" for name, o, s, r in rows]
    lines += [f"| **all** | **{total_ordinary:.2f}** | **{total_sandboxed:.2f}** | **{ratio:.2f}** |", "",
              f"Target: at most {TARGET_RATIO} (issue: sandboxed grading at most 1.5 times the unsandboxed time): "
              f"{'met' if ratio <= TARGET_RATIO else 'NOT met'}.", ""]
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print(f"all: ratio {ratio:.2f}; wrote {args.out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

"""Execute the course's notebooks: store their outputs, or benchmark them.

    uv run python benchmarks/run_notebooks.py store notebooks/00_setup_and_data.ipynb
        syncs the notebook with its jupytext twin (the newer file wins), executes it in place in a fresh
        kernel (outputs stored, widget state stripped) and syncs the twin again: the way every committed
        notebook is produced.
    uv run python benchmarks/run_notebooks.py benchmark [--runs 3] [notebook ...]
        executes each notebook (default: every lecture and solution notebook) ``--runs`` times, each
        in a fresh process and kernel, without touching the files; writes the median wall seconds and
        the peak memory to benchmarks/results.md.

Runs are sequential and torch is pinned to one thread (docs/design.md, section 7): on 2 shared cores,
parallel or multi-threaded runs measure the contention, not the notebook. Take figures on a quiet
machine.

Seconds do not travel between machines, so every benchmark run also measures a fixed calibration
workload, before and after the notebooks: the bare training loop of benchmarks/train_speed.py (one
thread), in images per second. Its unit, the **calibration unit**, is the time that loop takes to
train on 100,000 images (about 5.3 s on the machine where the budgets were set). Each notebook's
time and budget are also stated in these units, and the verdict is taken in them: a notebook is
within budget on any machine when its median, divided by that machine's calibration unit, is at
most its budget in units.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results.md"
BUDGET_SECONDS = 60.0
# The notebooks that train several models have larger budgets (their issues, docs/design.md, section 7).
BUDGET_SECONDS_BY_PREFIX = {"07_": 90.0, "08_": 120.0, "09_": 120.0}
BUDGET_MIB = 2048.0
CELL_TIMEOUT = 600
# The calibration workload (see the module docstring): images of the bare loop per calibration unit,
# and that loop's speed on the machine and day the seconds budgets above were set (benchmarks/
# train_speed.md, 2026-11-23: 18,728 images/s with one thread), which turns them into units.
CALIBRATION_IMAGES = 100_000
REFERENCE_IMAGES_PER_S = 18_728.0
CALIBRATION_RUNS = 5  # fresh processes, before and after the notebooks
CALIBRATION_DRIFT_MAX = 0.15  # before and after differ more than this: the machine was not quiet


def budget_seconds(path: Path) -> float:
    return next((budget for prefix, budget in BUDGET_SECONDS_BY_PREFIX.items() if path.name.startswith(prefix)),
                BUDGET_SECONDS)


def budget_units(path: Path) -> float:
    """The notebook's time budget in calibration units (its seconds on the reference machine, converted)."""
    return budget_seconds(path) * REFERENCE_IMAGES_PER_S / CALIBRATION_IMAGES


def calibration_unit_s(images_per_s: float) -> float:
    """Seconds of one calibration unit on a machine whose bare loop runs at ``images_per_s``."""
    return CALIBRATION_IMAGES / images_per_s


def calibrate(runs: int = CALIBRATION_RUNS) -> list[float]:
    """Images per second of the bare training loop (benchmarks/train_speed.py, one thread), one per fresh process."""
    speeds = []
    for _ in range(runs):
        completed = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "train_speed.py"), "--epochs", "5",
                                    "--one", "bare", "1"], capture_output=True, text=True, cwd=ROOT,
                                   env=kernel_env())
        if completed.returncode != 0:
            raise RuntimeError(f"the calibration workload failed:\n{completed.stderr[-3000:]}")
        speeds.append(float(completed.stdout.strip().splitlines()[-1]))
    return speeds


def course_notebooks() -> list[Path]:
    lectures = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    solutions = sorted((ROOT / "solutions").glob("*/*.ipynb"))
    return lectures + solutions


def kernel_env() -> dict[str, str]:
    """This process's environment with every thread variable pinned to ``$VAECOURSE_THREADS`` (default 1)."""
    from vaecourse.config import thread_environment

    env = {**os.environ, **thread_environment()}
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    return env


def execute(path: Path, store: bool) -> dict:
    """Run ``path`` top to bottom in a fresh kernel; return wall seconds and this process tree's peak RSS."""
    import nbformat
    from nbclient import NotebookClient

    try:
        notebook = nbformat.read(path, as_version=4)
    except (OSError, ValueError) as err:  # nbformat's NotJSONError and validation errors are ValueErrors
        raise SystemExit(f"{path}: not a readable notebook ({type(err).__name__}: {err}). If it has a .py "
                         "twin, rebuild it from that: uv run jupytext --sync <notebook>.py") from err
    # record_timing=False: per-cell timestamps would make every re-run a diff.
    client = NotebookClient(notebook, timeout=CELL_TIMEOUT, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(path.parent)}})
    os.environ.update(kernel_env())  # the kernel inherits this process's environment
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    if store:
        notebook.metadata.pop("widgets", None)  # widget state varies between runs and is not needed
        nbformat.write(notebook, path)
    # ru_maxrss is in KiB on Linux; the children's figure covers the (waited-for) kernel process.
    peak_kib = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                   resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return {"seconds": seconds, "peak_mib": peak_kib / 1024}


def store(paths: list[Path]) -> None:
    for path in paths:
        paired = (path.parent / "jupytext.toml").exists()
        if paired:  # the newer file of the pair wins: an edited .py reaches the notebook before it runs
            subprocess.run([sys.executable, "-m", "jupytext", "--sync", "--quiet", str(path)], check=True)
        result = execute(path, store=True)
        if paired:
            subprocess.run([sys.executable, "-m", "jupytext", "--sync", "--quiet", str(path)], check=True)
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        print(f"{shown}: executed and stored in {result['seconds']:.1f} s, "
              f"peak {result['peak_mib']:.0f} MiB")


def measure_once(path: Path) -> dict:
    """One run in a fresh Python process, so that the peak memory belongs to this run alone."""
    # Every run starts with an empty vaecourse cache: the worst case, a student's first run, when
    # the embedded data is split and the reference classifier trained on first use.
    with tempfile.TemporaryDirectory(prefix="vaecourse-bench-cache-") as cold_cache:
        completed = subprocess.run([sys.executable, __file__, "_measure", str(path)], capture_output=True,
                                   text=True, env={**kernel_env(), "VAECOURSE_CACHE": cold_cache}, cwd=ROOT)
    if completed.returncode != 0:
        raise RuntimeError(f"{path} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def benchmark(paths: list[Path], runs: int) -> dict[Path, list[dict]]:
    """Measure each notebook ``runs`` times: path -> one ``{"seconds", "peak_mib"}`` per run."""
    measured = {}
    for path in paths:
        measured[path] = []
        for run in range(runs):
            measured[path].append(measure_once(path))
            print(f"{path.relative_to(ROOT)} run {run + 1}/{runs}: {measured[path][-1]['seconds']:.1f} s, "
                  f"{measured[path][-1]['peak_mib']:.0f} MiB", file=sys.stderr)
    return measured


def table_rows(measured: dict[Path, list[dict]], images_per_s: float) -> dict[str, str]:
    """Each notebook's table row, keyed by its path relative to the repository; the verdict is taken in units."""
    rows = {}
    today = datetime.date.today().isoformat()
    unit_s = calibration_unit_s(images_per_s)
    for path, results in measured.items():
        seconds = [r["seconds"] for r in results]
        peak = max(r["peak_mib"] for r in results)
        median = statistics.median(seconds)
        units, budget = median / unit_s, budget_units(path)
        verdict = "ok" if units <= budget and peak <= BUDGET_MIB else "OVER BUDGET"
        name = str(path.relative_to(ROOT))
        rows[name] = (f"| `{name}` | {median:.1f} | {min(seconds):.1f} | {max(seconds):.1f} | {peak:.0f} "
                      f"| {images_per_s:,.0f} | {units:.1f} | {budget:.1f} | {budget * unit_s:.0f} | {verdict} "
                      f"| {today}, {len(seconds)} run{'s' if len(seconds) != 1 else ''} |")
    return rows


def previous_rows() -> dict[str, str]:
    """Rows of the committed table, so that timing some notebooks keeps the others' rows."""
    if not RESULTS.exists():
        return {}
    rows = {}
    for line in RESULTS.read_text().splitlines():
        # rows without a calibration column (written before it existed) cannot be compared: dropped
        if line.startswith("| `") and line.count("|") == 12:
            rows[line.split("`")[1]] = line
    return rows


def machine_description() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{os.cpu_count()} CPU cores ({cpu}), Python {platform.python_version()}, torch {torch.__version__}, "
            f"torch threads {kernel_env()['VAECOURSE_THREADS']}, GPU used: {torch.cuda.is_available()}")


def write_results(rows: dict[str, str], runs: int, calibration: dict[str, list[float]]) -> None:
    merged = {**previous_rows(), **rows}
    order = [str(p.relative_to(ROOT)) for p in course_notebooks()]
    names = sorted(merged, key=lambda n: (order.index(n) if n in order else len(order), n))
    table = "\n".join(merged[n] for n in names)
    larger_budgets = "; ".join(f"notebook {prefix.rstrip('_')}: {budget:.0f} s"
                               for prefix, budget in BUDGET_SECONDS_BY_PREFIX.items())
    before, after = (statistics.median(calibration[k]) for k in ("before", "after"))
    speed = statistics.median(calibration["before"] + calibration["after"])
    drift = abs(after - before) / before
    RESULTS.write_text(
        "# Notebook benchmark\n\n"
        f"Written by `uv run python benchmarks/run_notebooks.py benchmark` on "
        f"{datetime.date.today().isoformat()} (rows measured earlier keep their date and calibration): each "
        f"notebook executed {runs} time{'s' if runs != 1 else ''} in this run (a row's `measured` column says how "
        "many runs its median is of; rows that do not say are of 3), each time in a fresh "
        "process and kernel, one after another. Wall seconds run from kernel start to the last cell; "
        "peak memory is the largest resident set of the kernel process.\n\n"
        f"**Calibration of this run**: the bare training loop of `benchmarks/train_speed.py` (one thread) ran at "
        f"{speed:,.0f} images/s (median of {len(calibration['before'])} fresh processes before the notebooks, "
        f"{before:,.0f}, and {len(calibration['after'])} after, {after:,.0f}: "
        + ("they differ by {:.0%}, more than {:.0%}: the machine was not quiet, and these rows are not "
           "trustworthy".format(drift, CALIBRATION_DRIFT_MAX) if drift > CALIBRATION_DRIFT_MAX else
           f"{drift:.0%} apart") + "). "
        f"One **calibration unit** is the time that loop takes for {CALIBRATION_IMAGES:,} images: "
        f"{calibration_unit_s(speed):.2f} s on this machine in this run.\n\n"
        f"**Budget** (docs/design.md, section 7): median at most {BUDGET_SECONDS:.0f} s ({larger_budgets}) on the "
        f"machine where the budgets were set, whose loop ran at {REFERENCE_IMAGES_PER_S:,.0f} images/s; in "
        f"calibration units, {budget_units(Path('x.ipynb')):.1f} ("
        + "; ".join(f"notebook {prefix.rstrip('_')}: {budget_units(Path(prefix + 'x.ipynb')):.1f}"
                    for prefix in BUDGET_SECONDS_BY_PREFIX)
        + f"), and peak under {BUDGET_MIB / 1024:.0f} GiB. The verdict is taken in units, so it holds on any "
        "machine; \"budget s here\" is the budget in seconds on the machine of the row.\n\n"
        f"Machine: {machine_description()}.\n\n"
        "Every run starts with an empty vaecourse cache (a student's first run: the reference digit "
        "classifier is trained on first use), so later runs on a student's machine are faster.\n\n"
        "| notebook | median s | min s | max s | peak MiB | calibration images/s | median units | budget units "
        "| budget s here | budget | measured |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |\n"
        f"{table}\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    store_parser = sub.add_parser("store", help="execute notebooks in place and sync their jupytext twins")
    store_parser.add_argument("notebooks", nargs="+", type=Path)
    bench_parser = sub.add_parser("benchmark", help="time notebooks and write benchmarks/results.md")
    bench_parser.add_argument("notebooks", nargs="*", type=Path)
    bench_parser.add_argument("--runs", type=int, default=3)
    bench_parser.add_argument("--no-write", action="store_true", help="print the table instead of writing it")
    measure_parser = sub.add_parser("_measure", help=argparse.SUPPRESS)
    measure_parser.add_argument("notebook", type=Path)
    args = parser.parse_args(argv)

    if args.command == "_measure":
        print(json.dumps(execute(args.notebook.resolve(), store=False)))
        return
    paths = [p.resolve() for p in args.notebooks] or course_notebooks()
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    if args.command == "store":
        store(paths)
    else:
        calibration = {"before": calibrate()}
        print(f"calibration before: {[round(c) for c in calibration['before']]} images/s", file=sys.stderr)
        measured = benchmark(paths, args.runs)
        calibration["after"] = calibrate()
        print(f"calibration after: {[round(c) for c in calibration['after']]} images/s", file=sys.stderr)
        rows = table_rows(measured, statistics.median(calibration["before"] + calibration["after"]))
        if args.no_write:
            print("\n".join(rows.values()))
        else:
            write_results(rows, args.runs, calibration)
            print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

"""Time the README's test command on a fresh clone and record where the time goes, in benchmarks/suite.md.

    uv run python benchmarks/time_suite.py run [--label after]
        clones the committed HEAD into a temporary folder, installs it (`uv sync --frozen` and, as .ci/run
        does, the hub's proxy with `npm ci --prefix deploy/hub`; not timed: the figure is "after the first
        install"; the chart's schema for tests/test_deploy.py is the copy beside this repository), measures the calibration workload of
        benchmarks/run_notebooks.py, then times `uv run pytest --durations=30` there and writes the
        section ``--label`` of benchmarks/suite.md: the wall time, pytest's summary line, and the 20
        slowest test phases.
    uv run python benchmarks/time_suite.py record LOG --seconds S --label before
        writes a section from a pytest log (run with --durations) and its measured wall time, e.g. a
        run of an earlier commit.

Take the figure on a quiet machine: the suite uses every core (pytest-xdist), so anything else
running lengthens it. Sections with other labels are kept.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "suite.md"
BUDGET_S = 600
SLOWEST = 20
DURATION_LINE = re.compile(r"^\s*([\d.]+)s (setup|call|teardown)\s+(\S.*)$")
SUMMARY_LINE = re.compile(r"^=+ (.*(passed|failed|error).* in [\d.]+s.*) =+$")


def slowest(log: str, count: int = SLOWEST) -> list[tuple[float, str, str]]:
    """``(seconds, phase, test)`` of the slowest phases pytest's ``--durations`` listed in ``log``."""
    found = [(float(m.group(1)), m.group(2), m.group(3)) for m in map(DURATION_LINE.match, log.splitlines()) if m]
    return sorted(found, reverse=True)[:count]


def summary(log: str) -> str:
    lines = [m.group(1) for m in map(SUMMARY_LINE.match, log.splitlines()) if m]
    return lines[-1] if lines else "(no pytest summary line found)"


def section(label: str, seconds: float, log: str, calibration: float | None, note: str) -> str:
    rows = "\n".join(f"| {rank} | {s:.1f} | {phase} | `{test}` |" for rank, (s, phase, test) in enumerate(slowest(log), 1))
    verdict = "within" if seconds <= BUDGET_S else "OVER"
    calibration_text = (f" Calibration of the machine in that run (the bare training loop of benchmarks/train_speed.py, "
                        f"one thread): {calibration:,.0f} images/s." if calibration else "")
    return (f"## {label}\n\n{note}\n\n**`uv run pytest`: {seconds:.0f} s wall** ({seconds / 60:.1f} min; {verdict} the "
            f"{BUDGET_S} s budget). pytest: {summary(log)}.{calibration_text}\n\n"
            f"The {SLOWEST} slowest test phases (a module's fixtures are built in its first test's setup; where "
            "pytest-xdist runs two workers, their phases overlap and add up to more than the wall time):\n\n"
            "| rank | seconds | phase | test |\n| ---: | ---: | --- | --- |\n" + rows + "\n")


def write(label: str, text: str) -> None:
    """Replace (or add) the section ``label`` of benchmarks/suite.md, keeping the others."""
    sections: dict[str, str] = {}
    if RESULTS.exists():
        for block in re.split(r"(?m)^(?=## )", RESULTS.read_text(encoding="utf-8")):
            if block.startswith("## "):
                sections[block.splitlines()[0][3:].strip()] = block.rstrip() + "\n"
    sections[label] = text
    RESULTS.write_text(
        "# The test command's time\n\nWritten by `uv run python benchmarks/time_suite.py` (see its docstring). The "
        f"README's `uv run pytest` must finish within {BUDGET_S} s on 2 cores, after the first install, with nothing "
        "else running (docs/design.md, section 7).\n\n" + "\n".join(sections[k] for k in sorted(sections)),
        encoding="utf-8")


def calibrate() -> float:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import run_notebooks

    return statistics.median(run_notebooks.calibrate(3))


def run(label: str) -> None:
    with tempfile.TemporaryDirectory(prefix="vaecourse-suite-") as folder:
        clone = Path(folder) / "clone"
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=clone, capture_output=True, text=True,
                                check=True).stdout.strip()
        env = {key: value for key, value in os.environ.items() if key not in ("VIRTUAL_ENV",)}
        subprocess.run(["uv", "sync", "--frozen", "--quiet"], cwd=clone, check=True, env=env)
        # what .ci/run installs besides (not timed either): the hub's proxy from npm; and the tests read the copy of
        # the Zero to JupyterHub chart beside this repository, as on the course's CI machines (the clone has none)
        if shutil.which("npm"):
            for prefix in ("deploy/hub", "docs/site"):  # the hub's proxy, the website's MathJax
                subprocess.run(["npm", "ci", "--prefix", prefix, "--no-audit", "--no-fund", "--loglevel=error"],
                               cwd=clone, check=True, env=env)
        schema = ROOT.parent / "shared" / "z2jh" / "values.schema.yaml"
        if schema.exists():
            env["VAECOURSE_Z2JH_SCHEMA"] = str(schema)
        speed = calibrate()
        started = time.perf_counter()
        completed = subprocess.run(["uv", "run", "pytest", "--durations=30"], cwd=clone, env=env,
                                   capture_output=True, text=True)
        seconds = time.perf_counter() - started
    log = completed.stdout + completed.stderr
    (ROOT / "benchmarks" / f"suite-{label}.log").write_text(log, encoding="utf-8")
    note = (f"Commit {commit}, a fresh clone, measured {datetime.date.today().isoformat()} on {os.cpu_count()} cores; "
            f"pytest exited with {completed.returncode}. The log is in benchmarks/suite-{label}.log (not committed).")
    write(label, section(label, seconds, log, speed, note))
    print(f"{seconds:.0f} s, exit {completed.returncode}: wrote {RESULTS.relative_to(ROOT)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run")
    run_parser.add_argument("--label", default="after")
    record_parser = sub.add_parser("record")
    record_parser.add_argument("log", type=Path)
    record_parser.add_argument("--seconds", type=float, required=True)
    record_parser.add_argument("--label", required=True)
    record_parser.add_argument("--note", default="")
    record_parser.add_argument("--calibration", type=float)
    args = parser.parse_args()
    if args.command == "run":
        run(args.label)
    else:
        log = args.log.read_text(encoding="utf-8", errors="replace")
        write(args.label, section(args.label, args.seconds, log, args.calibration, args.note))
        print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

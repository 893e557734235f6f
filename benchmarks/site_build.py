"""Time the course website's build (docs/site/build.py) and record it in benchmarks/site_build.md.

    uv run python benchmarks/site_build.py [--runs 3]

Each run stages and builds the whole site into a new temporary folder, in a fresh process (as the documented
command does); the table gives each run's wall time and the median. Target: under 2 minutes on 2 cores. Take the
figure on a quiet machine.
"""

from __future__ import annotations

import argparse
import datetime
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "site_build.md"
TARGET_S = 120

BUILD = """
import sys
sys.path.insert(0, {site!r})
import build
from pathlib import Path
build.build(Path({folder!r}) / "src", Path({folder!r}) / "html")
"""


def one_run() -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of the build's processes, pages) of one build in a fresh process."""
    with tempfile.TemporaryDirectory(prefix="vaecourse-site-") as folder:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", BUILD.format(site=str(ROOT / "docs" / "site"), folder=folder)],
                       check=True, cwd=ROOT)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        pages = sum(1 for _ in (Path(folder) / "html").rglob("*.html"))
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    runs = [one_run() for _ in range(parser.parse_args().runs)]
    median = statistics.median(wall for wall, _, _ in runs)
    rows = "\n".join(f"| {k + 1} | {wall:.1f} | {cpu:.1f} | {pages} |" for k, (wall, cpu, pages) in enumerate(runs))
    RESULTS.write_text(
        f"# The course website's build time\n\nWritten by `uv run python benchmarks/site_build.py` on "
        f"{datetime.date.today().isoformat()}, {os.cpu_count()} cores: `docs/site/build.py` (stage the pages, then "
        f"Sphinx with MyST-NB, no notebook executed, nothing downloaded), each run into a new temporary folder in a "
        f"fresh process.\n\n| run | wall s | CPU s | pages |\n| ---: | ---: | ---: | ---: |\n{rows}\n\n"
        f"**Median: {median:.1f} s**; target under {TARGET_S} s: {'met' if median < TARGET_S else 'NOT met'}.\n",
        encoding="utf-8")
    print(f"median {median:.1f} s: wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

"""Autograde one assignment with several nbgrader processes at once, each grading its own share of the students.

    uv run python -m vaecourse.parallel_grading q0_warmup --workers 2 -- --create --force

Run it where ``nbgrader autograde`` runs (the course's root, with ``nbgrader_config.py``); the words after
``--`` go to every ``nbgrader autograde`` command. nbgrader has no parallel autograde of its own (its issue
#174); this starts ``--workers`` ordinary ``nbgrader autograde <aid>`` commands at once (``concurrent.futures``
waiting on ``subprocess``), each with the students of the other shards excluded
(``--CourseDirectory.student_id_exclude``), so every submission is graded by exactly one of them, the way the
serial command grades it: the same preprocessors, the same sandbox, the same gradebook. Shards are dealt
round-robin over the students in name order. One nbgrader process per worker, not one per student: each
start of nbgrader costs seconds.

Several writers need a gradebook made for it: with more than one worker, a SQLite gradebook (nbgrader's default,
``gradebook.db``) is refused, as nbgrader's documentation advises; point ``CourseDirectory.db_url`` at
PostgreSQL (``postgresql+psycopg2://user@host/gradebook``, in nbgrader_config.py or after ``--``).
Each worker's output goes to ``parallel-autograde-<aid>-<worker>.log`` in the course root; the exit status is
the first non-zero status of a worker (nbgrader's own: a rejected submission makes it 1), else 0.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def shards(students: list[str], workers: int) -> list[list[str]]:
    """The students dealt round-robin, in name order, into ``workers`` shards (empty shards dropped)."""
    ordered = sorted(students)
    return [share for share in (ordered[k::workers] for k in range(workers)) if share]


def submitted_students(course: Path, aid: str) -> list[str]:
    """Every student with a submission folder for ``aid`` (submitted/<student>/<aid>/)."""
    return sorted(path.parent.name for path in (course / "submitted").glob(f"*/{aid}") if path.is_dir())


def gradebook_url(course: Path, extra: list[str]) -> str:
    """The gradebook nbgrader will use: ``--CourseDirectory.db_url`` among ``extra``, else nbgrader_config.py's."""
    for arg in extra:
        if arg.startswith("--CourseDirectory.db_url="):
            return arg.split("=", 1)[1]
    config_file = course / "nbgrader_config.py"
    if config_file.exists():
        from traitlets.config.loader import PyFileConfigLoader

        config = PyFileConfigLoader(config_file.name, path=str(course)).load_config()
        url = config.get("CourseDirectory", {}).get("db_url")
        if isinstance(url, str) and url:
            return url
    return f"sqlite:///{course / 'gradebook.db'}"


def grade(course: Path, aid: str, workers: int, extra: list[str], nbgrader: str | None = None) -> dict:
    """Run the workers; ``{"seconds", "shards", "returncodes", "logs"}``. Raises ValueError on a shared SQLite file."""
    students = submitted_students(course, aid)
    if not students:
        raise ValueError(f"no submissions of {aid} under {course / 'submitted'}")
    if workers > 1 and gradebook_url(course, extra).startswith("sqlite"):
        raise ValueError(
            f"{workers} workers would write to one SQLite gradebook ({gradebook_url(course, extra)}), which nbgrader's "
            "documentation advises against for several graders; set CourseDirectory.db_url to a PostgreSQL database "
            "(see vaecourse/postgres.py for a local one) or use --workers 1")
    nbgrader = nbgrader or shutil.which("nbgrader") or str(Path(sys.executable).with_name("nbgrader"))
    parts = shards(students, workers)

    def run(number: int, share: list[str]) -> int:
        others = [s for s in students if s not in share]
        command = [nbgrader, "autograde", aid, *extra]
        if others:
            command.append(f"--CourseDirectory.student_id_exclude={','.join(others)}")
        log = course / f"parallel-autograde-{aid}-{number}.log"
        with open(log, "w", encoding="utf-8") as handle:
            return subprocess.run(command, cwd=course, stdout=handle, stderr=subprocess.STDOUT).returncode

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(parts)) as pool:
        returncodes = list(pool.map(run, range(len(parts)), parts))
    return {"seconds": time.perf_counter() - started, "shards": parts, "returncodes": returncodes,
            "logs": [course / f"parallel-autograde-{aid}-{k}.log" for k in range(len(parts))]}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        extra = argv[argv.index("--") + 1:]
        argv = argv[: argv.index("--")]
    parser = argparse.ArgumentParser(prog="python -m vaecourse.parallel_grading", description=__doc__.split("\n\n")[0])
    parser.add_argument("assignment")
    parser.add_argument("--workers", type=int, default=2, help="nbgrader processes at once (default 2)")
    parser.add_argument("--course", type=Path, default=Path.cwd(), help="the course root (default: here)")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    try:
        result = grade(args.course.resolve(), args.assignment, args.workers, extra)
    except ValueError as error:
        print(f"parallel_grading: {error}", file=sys.stderr)
        return 2
    for number, (share, code) in enumerate(zip(result["shards"], result["returncodes"])):
        print(f"worker {number}: {len(share)} students, exit {code}, log {result['logs'][number]}")
    print(f"{sum(map(len, result['shards']))} submissions in {result['seconds']:.1f} s with {len(result['shards'])} workers")
    return next((code for code in result["returncodes"] if code), 0)


if __name__ == "__main__":
    sys.exit(main())

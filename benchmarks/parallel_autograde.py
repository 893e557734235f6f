"""Serial against parallel autograding of a simulated class, on a PostgreSQL gradebook.

    uv run python benchmarks/parallel_autograde.py                 # 40 submissions of q0_warmup; writes parallel_autograde.md
    uv run python benchmarks/parallel_autograde.py --students 60 --workers 2

Builds a temporary course (the repository's nbgrader_config.py: every kernel in the grading sandbox) with
``--students`` submissions of q0_warmup (a quarter each: the model answers, the first task only, the wrong answers
of the catalogue's first submission, the untouched release), starts a temporary PostgreSQL server
(vaecourse/postgres.py) with one gradebook for each run, then grades the class twice, one run after the other:
``nbgrader autograde q0_warmup --create --force`` (serial: what an instructor runs today) and
``python -m vaecourse.parallel_grading q0_warmup --workers N`` (sharded by student). Every submission's score on
every test cell must be the same in the two gradebooks. Writes the wall times, their ratio and the cost per
submission to benchmarks/parallel_autograde.md. Take it on a quiet machine (docs/design.md, section 7).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
AID = "q0_warmup"
RESULTS = ROOT / "benchmarks" / "parallel_autograde.md"


def build_course(course: Path, students: int) -> list[str]:
    """The course folder with the release generated and ``students`` submissions; their ids."""
    from test_grading import (AUTOGRADED_CATALOGUE, WRONG_ANSWER_CATALOGUE, paste_first_task, paste_solutions,
                              with_answers)

    course.mkdir(parents=True)
    shutil.copy2(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    (course / "solutions").mkdir()
    shutil.copytree(ROOT / "solutions" / AID, course / "solutions" / AID)
    shutil.copytree(ROOT / "exercises" / AID, course / "exercises" / AID)
    release = nbformat.read(course / "exercises" / AID / f"{AID}.ipynb", as_version=4)
    source = nbformat.read(ROOT / "solutions" / AID / f"{AID}.ipynb", as_version=4)
    solved = paste_solutions(release, source)
    wrong = with_answers(solved, {gid: answer.code.lstrip() for gid, answer in
                                  WRONG_ANSWER_CATALOGUE[AID][AUTOGRADED_CATALOGUE[AID]].items()})
    kinds = [solved, paste_first_task(release, source), wrong, release]
    ids = [f"student{number:03d}" for number in range(students)]
    for number, student in enumerate(ids):
        folder = course / "submitted" / student / AID
        folder.mkdir(parents=True)
        nbformat.write(kinds[number % len(kinds)], folder / f"{AID}.ipynb")
    return ids


def nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    from test_grading import _nbgrader_env  # one torch thread, the environment's scripts first, the course's config only

    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course,
                          env=_nbgrader_env(course / ".jupyter_config"), capture_output=True, text=True)


def scores(url: str) -> dict[tuple[str, str], float | None]:
    from nbgrader.api import Gradebook

    found = {}
    with Gradebook(url) as gradebook:
        for submission in gradebook.assignment_submissions(AID):
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    found[(submission.student.id, grade.name)] = grade.score
    return found


def grade_once(course: Path, run: str, url: str, workers: int) -> float:
    """Wall seconds of one grading of the whole class into the gradebook at ``url``, serially or in parallel."""
    from vaecourse import parallel_grading

    started = time.perf_counter()
    if run == "serial":
        done = nbgrader(course, "autograde", AID, "--create", "--force", f"--CourseDirectory.db_url={url}")
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return time.perf_counter() - started
    result = parallel_grading.grade(course, AID, workers, ["--create", "--force", f"--CourseDirectory.db_url={url}"],
                                    nbgrader=str(Path(sys.executable).with_name("nbgrader")))
    assert result["returncodes"] == [0] * len(result["shards"]), [p.read_text()[-2000:] for p in result["logs"]]
    return result["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2, help="rounds of both runs, alternating which goes first")
    args = parser.parse_args()
    from vaecourse.postgres import temporary_server

    with tempfile.TemporaryDirectory(prefix="vaecourse-parallel-") as tmp:
        tmp_path = Path(tmp)
        os.chmod(tmp_path, 0o755)
        course = tmp_path / "course"
        ids = build_course(course, args.students)
        (course / ".jupyter_config").mkdir()
        os.environ["JUPYTER_CONFIG_DIR"] = str(course / ".jupyter_config")  # the parallel run's nbgrader commands too
        timings: dict[str, list[float]] = {"serial": [], "parallel": []}
        compared = 0
        with temporary_server() as server:
            # rounds alternate the order (serial first, then parallel first), so that a machine warming up or
            # cooling down does not favour one of them
            for number in range(args.rounds):
                order = ("serial", "parallel") if number % 2 == 0 else ("parallel", "serial")
                urls = {run: server.create_database(f"{run}{number}") for run in order}
                for url in urls.values():  # the assignment and its cells, in each gradebook
                    done = nbgrader(course, "generate_assignment", AID, "--force", f"--CourseDirectory.db_url={url}")
                    assert done.returncode == 0, done.stdout + done.stderr
                for run in order:
                    timings[run].append(grade_once(course, run, urls[run], args.workers))
                serial_scores, parallel_scores = scores(urls["serial"]), scores(urls["parallel"])
                graded = {student for student, _ in serial_scores}
                assert graded == set(ids), f"serial graded {len(graded)} of {len(ids)}"
                differ = sorted(key for key in serial_scores.keys() | parallel_scores.keys()
                                if serial_scores.get(key) != parallel_scores.get(key))
                assert not differ, f"round {number}: serial and parallel grades differ: {differ[:10]}"
                compared += len(serial_scores)
    serial_s, parallel_s = statistics.median(timings["serial"]), statistics.median(timings["parallel"])
    per_submission = serial_s / len(ids)
    ratio = serial_s / parallel_s
    cores = os.cpu_count()
    rounds = ", ".join(f"{a:.1f} / {b:.1f}" for a, b in zip(timings["serial"], timings["parallel"]))
    text = f"""# Parallel autograding: serial against {args.workers} workers

Written by `uv run python benchmarks/parallel_autograde.py` on {datetime.date.today().isoformat()} ({platform.machine()},
{cores} cores, one torch thread per kernel, every kernel in the grading sandbox, the gradebook on PostgreSQL in a
temporary server): {len(ids)} submissions of {AID} (a quarter each: the model answers, the first task only, wrong
answers, the untouched release), graded with `nbgrader autograde` (serial) and with
`python -m vaecourse.parallel_grading --workers {args.workers}`, {args.rounds} rounds, the order alternating; medians.

| run | wall s | per submission s |
| --- | ---: | ---: |
| serial (`nbgrader autograde`) | {serial_s:.1f} | {per_submission:.2f} |
| {args.workers} workers (`vaecourse.parallel_grading`) | {parallel_s:.1f} | {parallel_s / len(ids):.2f} |

Rounds (serial / parallel, s): {rounds}. **Speed-up {ratio:.2f}x** with {args.workers} workers on {cores} cores. Grades:
every test cell of every submission has the same score in the two gradebooks, every round ({compared} scores
compared).

A speed-up above the number of workers means the serial command leaves the cores idle part of the time (each
submission waits for its sandboxed kernel to start and answer); a second worker fills those gaps. That does not
carry over to many graders: at the serial cost of {per_submission:.2f} s a submission, 300 students take about
{300 * per_submission / 60:.0f} minutes per assignment like this one with one grader process, and about
{300 * per_submission / 60:.0f} / N minutes with N processes on N idle cores (the gradebook on PostgreSQL), if each
keeps its core as busy as a serial grader does.
"""
    RESULTS.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()

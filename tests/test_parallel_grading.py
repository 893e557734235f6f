"""vaecourse.parallel_grading and vaecourse.postgres without an nbgrader run: the sharding, the refusal of a shared
SQLite gradebook, and a temporary PostgreSQL server that leaves nothing running. (The benchmark
benchmarks/parallel_autograde.py grades a class both ways and checks the grades are the same.)"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from system_tools import missing
from vaecourse import parallel_grading
from vaecourse.postgres import find_postgres, temporary_server


def test_shards_cover_every_student_once_and_balance():
    students = [f"s{k:02d}" for k in range(7)]
    parts = parallel_grading.shards(list(reversed(students)), 3)
    assert sorted(s for part in parts for s in part) == students  # each once
    assert [len(p) for p in parts] == [3, 2, 2]
    assert parallel_grading.shards(["a"], 4) == [["a"]]  # no empty workers


def _course(tmp_path: Path, db_url: str | None) -> Path:
    for student in ("alice", "bob"):
        (tmp_path / "submitted" / student / "q0_warmup").mkdir(parents=True)
    (tmp_path / "submitted" / "carol" / "q1_autoencoders").mkdir(parents=True)  # another assignment only
    config = 'c = get_config()\nc.CourseDirectory.root = "."\n'
    if db_url:
        config += f'c.CourseDirectory.db_url = "{db_url}"\n'
    (tmp_path / "nbgrader_config.py").write_text(config, encoding="utf-8")
    return tmp_path


def test_submitted_students_and_the_gradebook_from_the_config(tmp_path):
    course = _course(tmp_path, "postgresql+psycopg2://grader@db/gradebook")
    assert parallel_grading.submitted_students(course, "q0_warmup") == ["alice", "bob"]
    assert parallel_grading.gradebook_url(course, []) == "postgresql+psycopg2://grader@db/gradebook"
    override = "--CourseDirectory.db_url=postgresql+psycopg2://other/db"
    assert parallel_grading.gradebook_url(course, [override]) == "postgresql+psycopg2://other/db"


def test_several_workers_refuse_a_sqlite_gradebook(tmp_path):
    course = _course(tmp_path, None)  # nbgrader's default: gradebook.db
    assert parallel_grading.gradebook_url(course, []).startswith("sqlite:///")
    with pytest.raises(ValueError, match="one SQLite gradebook"):
        parallel_grading.grade(course, "q0_warmup", 2, [])
    assert parallel_grading.main(["q0_warmup", "--workers", "2", "--course", str(course)]) == 2


def test_no_submissions_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="no submissions of q5_vq_vae"):
        parallel_grading.grade(_course(tmp_path, None), "q5_vq_vae", 1, [])


def test_each_worker_grades_only_its_own_share(tmp_path):
    """The control of the sharding: with a stand-in for nbgrader that logs its arguments, each worker excludes
    exactly the students of the other shards."""
    course = _course(tmp_path, "postgresql+psycopg2://grader@db/gradebook")
    fake = tmp_path / "fake-nbgrader"
    fake.write_text('#!/bin/sh\necho "$@"\n', encoding="utf-8")
    fake.chmod(0o755)
    result = parallel_grading.grade(course, "q0_warmup", 2, ["--create"], nbgrader=str(fake))
    assert result["shards"] == [["alice"], ["bob"]] and result["returncodes"] == [0, 0]
    logged = [log.read_text().split() for log in result["logs"]]
    assert logged == [["autograde", "q0_warmup", "--create", "--CourseDirectory.student_id_exclude=bob"],
                      ["autograde", "q0_warmup", "--create", "--CourseDirectory.student_id_exclude=alice"]]


def test_temporary_postgres_serves_a_gradebook_and_leaves_nothing_running():
    if find_postgres() is None:
        missing("PostgreSQL's server (initdb, pg_ctl) is not installed",
                "install it: `sudo apt-get install postgresql` (Debian, Ubuntu)")
    from nbgrader.api import Gradebook

    with temporary_server() as server:
        url = server.create_database("gradebook")
        with Gradebook(url, course_id="vaecourse") as gradebook:
            gradebook.add_student("alice")
            gradebook.add_assignment("q0_warmup")
        with Gradebook(url, course_id="vaecourse") as gradebook:  # another connection sees it
            assert [s.id for s in gradebook.students] == ["alice"]
            assert [a.name for a in gradebook.assignments] == ["q0_warmup"]
        # the control of nbgrader_config.py's course_id: nbgrader's default, an empty id, leaves the gradebook without
        # a course row, which SQLite lets pass and PostgreSQL refuses
        from nbgrader.api import InvalidEntry

        with Gradebook(server.create_database("without_course_id"), course_id="") as gradebook:
            with pytest.raises(InvalidEntry, match="foreign key"):
                gradebook.add_assignment("q0_warmup")
        port = server.port
    running = subprocess.run(["pgrep", "-f", f"-p {port}"], capture_output=True, text=True).stdout
    assert running == "", f"PostgreSQL still running after the block: {running}"

"""A throw-away PostgreSQL server for a gradebook: the tests' and benchmarks' stand-in for the course's real one.

nbgrader keeps its gradebook wherever ``CourseDirectory.db_url`` points; its documentation warns against SQLite
when several graders write at once, which parallel autograding does (:mod:`vaecourse.parallel_grading`).
:func:`temporary_server` starts Debian's (or any installed) PostgreSQL in a temporary data directory on a free
local port, trusting local connections only, and stops it when the block ends, leaving nothing running::

    with temporary_server() as server:
        url = server.create_database("gradebook")   # postgresql+psycopg2://postgres@127.0.0.1:PORT/gradebook

PostgreSQL refuses to run as root: as root, the server runs as the ``postgres`` user (Debian's package creates
it) or, failing that, ``nobody``. Its data lives in a folder of its own under the system's temporary folder
(that user must reach it: pytest's ``tmp_path`` lies below a folder only root may enter), removed on exit. :func:`find_postgres` looks on ``PATH`` and then in Debian's
``/usr/lib/postgresql/<version>/bin``; a missing server raises :class:`PostgresUnavailable`, which says how to
install it.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

INSTALL_POSTGRES = "install PostgreSQL's server: `sudo apt-get install postgresql` (Debian, Ubuntu)"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries (initdb, pg_ctl) were found."""


def find_postgres() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``: from ``PATH``, else Debian's newest ``/usr/lib/postgresql/*/bin``."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).resolve().parent
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                    key=lambda p: [int(x) for x in Path(p).parts[-3].split(".") if x.isdigit()])
    return Path(debian[-1]).parent if debian else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    port: int
    user: str = "postgres"  # the database superuser (trust authentication, local connections only)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://{self.user}@127.0.0.1:{self.port}"

    def create_database(self, name: str) -> str:
        """Create the database ``name`` (dropping one of that name first); its SQLAlchemy URL."""
        import psycopg2

        connection = psycopg2.connect(host="127.0.0.1", port=self.port, user=self.user, dbname="postgres")
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
                cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            connection.close()
        return f"{self.url}/{name}"


@contextlib.contextmanager
def temporary_server() -> Iterator[Server]:
    """A PostgreSQL server on a free port of 127.0.0.1, its data in a new temporary folder; stopped and removed on exit."""
    binaries = find_postgres()
    if binaries is None:
        raise PostgresUnavailable(f"no PostgreSQL server (initdb, pg_ctl) on PATH or in /usr/lib/postgresql; "
                                  f"{INSTALL_POSTGRES}")
    base = Path(tempfile.mkdtemp(prefix="vaecourse-postgres-"))
    data, sockets, log = base / "pgdata", base / "pgsocket", base / "postgres.log"
    sockets.mkdir()
    run_as: list[str] = []
    if os.getuid() == 0:  # initdb and postgres refuse root
        account = "postgres" if _has_user("postgres") else "nobody"
        entry = pwd.getpwnam(account)
        for folder in (base, sockets):
            os.chown(folder, entry.pw_uid, entry.pw_gid)
        run_as = ["setpriv", f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--clear-groups", "--"]
    try:
        made = subprocess.run([*run_as, str(binaries / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                               "-E", "UTF8", "--no-sync"], capture_output=True, text=True)
        if made.returncode != 0:
            raise RuntimeError(f"initdb failed: {made.stderr.strip()[-2000:]}")
        port = _free_port()
        options = f"-F -p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c max_connections=50"
        started = subprocess.run([*run_as, str(binaries / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log),
                                  "-w", "-t", "60", "start"], capture_output=True, text=True)
        if started.returncode != 0:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"PostgreSQL did not start: {started.stderr.strip()}\n{tail}")
        try:
            yield Server(port=port)
        finally:
            subprocess.run([*run_as, str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                           capture_output=True, text=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False

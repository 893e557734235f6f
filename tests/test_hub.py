"""The course on JupyterHub, end to end: a class of fake students fetches, answers and submits q0 through nbgrader's
exchange; the instructor releases, collects, autogrades in parallel into PostgreSQL, and releases feedback.

The hub is deploy/hub/jupyterhub_config.py itself, started by the test under tests/hub_test_config.py (dummy login,
every server as the test's own user, temporary folders, free ports): JupyterHub from the lockfile, the proxy
(configurable-http-proxy) from npm (``npm ci --prefix deploy/hub``), nbgrader's server extensions in every user's
server. Everything the students and the instructor do goes over HTTP through the hub's proxy, as a browser's
requests would: the login form, the hub's REST API (a token per user, their server started), the Jupyter contents
API (the student's notebook read and written), nbgrader's assignment list (fetch, submit, fetch feedback) and
formgrader (generate, release, collect, generate and release feedback) handlers. Autograding is the instructors'
terminal command, ``python -m vaecourse.parallel_grading`` with two workers, in the sandbox, into a PostgreSQL
gradebook (``vaecourse.postgres.temporary_server``) named in the course's nbgrader_config.py.

The students (STUDENTS): the model answers, the first task only, the release untouched, wrong answers, and a
copier whose answer cells, while being graded, look for another student's submission in the exchange, the
instructor's course and the other students' homes, and run the answers they find (in the sandbox they find
nothing and earn 0; unconfined they would take the model answers' 6 points).

Checked: every student's exported grade is exact; each student's fetched feedback is their own (one file, their
own score and their own answer marker, no other student's marker); the students' servers have no formgrader, the
instructor's has; and when the hub stops nothing is left: no process started by the test (hub, proxy, servers,
PostgreSQL) and no listening port of the hub or proxy.

Needs node with configurable-http-proxy (deploy/hub/node_modules or PATH), PostgreSQL's server and bubblewrap;
without one of them the test is skipped with a reason (under CI=true it fails; .ci/run installs all three).
"""

from __future__ import annotations

import copy
import csv
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import nbformat
import psutil
import pytest

from lab_server import free_port
from system_tools import missing
from test_grading import WRONG_KL, WRONG_REPARAM, paste_first_task, paste_solutions, with_answers
from vaecourse.config import thread_environment
from vaecourse.postgres import find_postgres, temporary_server
from vaecourse.sandbox import find_bubblewrap

REPO = Path(__file__).resolve().parents[1]
AID, COURSE_ID = "q0_warmup", "vaecourse"
INSTRUCTOR = "instructor"
HUB_TIMEOUT_S = 120  # a server's start, an HTTP call (autograde is not one)
# student -> (what they hand in, the exported score it must get)
STUDENTS = {
    "ada": ("the model answers", 6.0),
    "ben": ("the first task only", 3.0),
    "cleo": ("the release untouched", 0.0),
    "dev": ("wrong answers (variance for std, KL without -1)", 0.0),
    "eve": ("a copier: another student's answers taken from the exchange or a home, if it finds any", 0.0),
}
MARKER = "# handed in by {student}"  # in each student's first answer cell: whose feedback is whose

# The copier's first answer cell: whatever it finds of another student's q0 it runs (the answers come with it).
COPIER = '''import glob, json, os
_found = []
for _pattern in ({exchange!r} + "/**/*.ipynb", {homes!r} + "/*/q0_warmup/*.ipynb", {course!r} + "/**/*.ipynb"):
    try:
        _found += [p for p in glob.glob(_pattern, recursive=True) if "/eve" not in p]
    except OSError:
        pass
print(f"other students' notebooks found: {{len(_found)}}")
for _path in _found[:1]:
    for _cell in json.load(open(_path))["cells"]:
        if _cell.get("metadata", {{}}).get("nbgrader", {{}}).get("solution") and _cell["cell_type"] == "code":
            exec("".join(_cell["source"]))
'''


def proxy_command() -> str | None:
    local = REPO / "deploy" / "hub" / "node_modules" / ".bin" / "configurable-http-proxy"
    return str(local) if local.exists() else shutil.which("configurable-http-proxy")


def requirements() -> None:
    """Skip (fail under CI) without the proxy, PostgreSQL or bubblewrap, saying how to get each."""
    if not shutil.which("node"):
        missing("the hub test needs node (JupyterHub's proxy runs on it)", "install it: `sudo apt-get install nodejs npm`")
    if proxy_command() is None:
        missing("the hub test needs configurable-http-proxy", "install it from npm: `npm ci --prefix deploy/hub`")
    if find_postgres() is None:
        missing("the hub test grades into PostgreSQL", "install it: `sudo apt-get install postgresql`")
    if not find_bubblewrap():
        missing("the hub test autogrades in the sandbox", "install it: `sudo apt-get install bubblewrap`")


# ---------------------------------------------------------------------------------------------- the hub over HTTP
class Hub:
    """A running hub (deploy/hub under tests/hub_test_config.py) and HTTP helpers for its users."""

    def __init__(self, url: str, password: str, service_token: str):
        self.url, self.password, self.service_token = url, password, service_token
        self.tokens: dict[str, str] = {}

    def login(self, user: str):
        """Log in through the login form (as a browser does), then ask the hub's API for a token of one's own."""
        import requests

        browser = requests.Session()
        browser.get(f"{self.url}/hub/login", timeout=HUB_TIMEOUT_S).raise_for_status()
        xsrf = browser.cookies.get("_xsrf")
        landed = browser.post(f"{self.url}/hub/login", data={"username": user, "password": self.password,
                                                              "_xsrf": xsrf}, allow_redirects=False,
                              timeout=HUB_TIMEOUT_S)
        assert landed.status_code == 302, f"{user}'s login was refused: {landed.status_code} {landed.text[:300]}"
        # the control: the same form with a wrong password (and a valid xsrf cookie, so that only the password differs)
        stranger = requests.Session()
        stranger.get(f"{self.url}/hub/login", timeout=HUB_TIMEOUT_S).raise_for_status()
        wrong = stranger.post(f"{self.url}/hub/login", data={"username": user, "password": "wrong",
                                                             "_xsrf": stranger.cookies.get("_xsrf")},
                              allow_redirects=False, timeout=HUB_TIMEOUT_S)
        assert wrong.status_code != 302 and "jupyterhub-session-id" not in stranger.cookies, \
            f"the hub let a wrong password in: {wrong.status_code}"
        made = browser.post(f"{self.url}/hub/api/users/{user}/tokens", json={"note": "test", "expires_in": 3600},
                            headers={"X-XSRFToken": browser.cookies.get("_xsrf")}, timeout=HUB_TIMEOUT_S)
        assert made.status_code in (200, 201), f"{user} got no token: {made.status_code} {made.text[:300]}"
        self.tokens[user] = made.json()["token"]

    def api(self, user: str, method: str, path: str, expect=(200, 201, 202, 204), **kwargs):
        """A call to the hub's API (``/hub/api/...``) or to the user's server (``/user/<name>/...``), as ``user``."""
        import requests

        token = self.service_token if user == "service" else self.tokens[user]
        reply = requests.request(method, f"{self.url}{path}", headers={"Authorization": f"token {token}"},
                                 timeout=kwargs.pop("timeout", HUB_TIMEOUT_S), **kwargs)
        if expect is not None:
            assert reply.status_code in expect, f"{method} {path} as {user}: {reply.status_code} {reply.text[:500]}"
        return reply

    def start_server(self, user: str) -> None:
        """Ask the hub for the user's server (it starts in the background: see wait_for_server)."""
        self.api(user, "POST", f"/hub/api/users/{user}/server")

    def wait_for_server(self, user: str) -> None:
        deadline = time.monotonic() + HUB_TIMEOUT_S
        while time.monotonic() < deadline:
            model = self.api("service", "GET", f"/hub/api/users/{user}").json()
            server = model.get("servers", {}).get("", {})
            if server.get("ready"):
                return
            time.sleep(0.5)
        pytest.fail(f"{user}'s server did not start in {HUB_TIMEOUT_S} s")

    def read_notebook(self, user: str, path: str) -> nbformat.NotebookNode:
        model = self.api(user, "GET", f"/user/{user}/api/contents/{path}").json()
        return nbformat.from_dict(model["content"])

    def write_notebook(self, user: str, path: str, notebook: nbformat.NotebookNode) -> None:
        self.api(user, "PUT", f"/user/{user}/api/contents/{path}",
                 json={"type": "notebook", "format": "json", "content": notebook})

    def listing(self, user: str, path: str) -> list[str]:
        return [entry["path"] for entry in self.api(user, "GET", f"/user/{user}/api/contents/{path}").json()["content"]]

    def assignments(self, user: str, action: str | None = None) -> list[dict]:
        data = {"assignment_id": AID, "course_id": COURSE_ID}
        if action is None:
            return self.api(user, "GET", f"/user/{user}/assignments", params={"course_id": COURSE_ID}).json()["value"]
        reply = self.api(user, "POST", f"/user/{user}/assignments/{action}", data=data, timeout=300).json()
        assert reply.get("success", True), f"{user}'s {action} failed: {reply}"
        return reply.get("value", [])

    def formgrader(self, action: str) -> dict:
        reply = self.api(INSTRUCTOR, "POST", f"/user/{INSTRUCTOR}/formgrader/api/assignment/{AID}/{action}",
                         timeout=300).json()
        assert reply.get("success"), f"the formgrader's {action} failed: {reply.get('error') or reply}"
        return reply


def processes_started_under(marker: str) -> list[psutil.Process]:
    """Processes whose command line, working folder or environment names ``marker`` (the test's temporary folder).

    The hub and the proxy work in its state folder, every user's server in its home, all of them below ``marker``.
    """
    found = []
    for process in psutil.process_iter():
        try:
            if (marker in " ".join(process.cmdline()) or process.cwd().startswith(marker)
                    or any(marker in value for value in process.environ().values())):
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            pass
    return found


@contextmanager
def running_hub(base: Path, env: dict[str, str]):
    """Start ``jupyterhub`` (its own session) and wait for its API; on exit stop it (the test checks what is left)."""
    import requests

    log = (base / "hub.log").open("w")
    hub = subprocess.Popen([str(Path(sys.executable).parent / "jupyterhub"), "-f", str(REPO / "tests" / "hub_test_config.py")],
                           cwd=base / "state", env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = env["VAECOURSE_HUB_URL"]
    try:
        deadline = time.monotonic() + HUB_TIMEOUT_S
        while True:
            assert hub.poll() is None, f"jupyterhub exited with {hub.returncode}:\n{(base / 'hub.log').read_text()[-3000:]}"
            try:
                if requests.get(f"{url}/hub/api/", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, f"the hub did not answer in {HUB_TIMEOUT_S} s"
            time.sleep(0.5)
        yield
    finally:
        hub.send_signal(signal.SIGTERM)  # cleanup_servers: the hub stops every user's server and the proxy
        try:
            hub.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(hub.pid, signal.SIGKILL)
            hub.wait()
        log.close()


# --------------------------------------------------------------------------------------------------- the test
def handed_in(student: str, release: nbformat.NotebookNode, source: nbformat.NotebookNode, paths: dict) -> nbformat.NotebookNode:
    """What ``student`` writes into the fetched notebook."""
    if student == "ada":
        notebook = paste_solutions(release, source)
    elif student == "ben":
        notebook = paste_first_task(release, source)
    elif student == "dev":
        notebook = with_answers(paste_solutions(release, source), {"q0-reparam-impl": WRONG_REPARAM,
                                                                   "q0-kl-impl": WRONG_KL})
    else:
        notebook = copy.deepcopy(release)
    first_answer = next(cell for cell in notebook.cells if cell.metadata.get("nbgrader", {}).get("solution")
                        and cell.cell_type == "code")
    prefix = MARKER.format(student=student) + "\n"
    if student == "eve":
        prefix += COPIER.format(**paths) + "\n"
    first_answer.source = prefix + first_answer.source
    return notebook


def test_a_class_on_the_hub(tmp_path_factory):
    requirements()
    base = tmp_path_factory.mktemp("hub")
    homes = base / "homes"
    course = homes / INSTRUCTOR / "vaecourse"  # the instructor's clone, inside their home (the formgrader needs it)
    for folder in (base / "state", base / "exchange"):
        folder.mkdir()
    course.mkdir(parents=True)
    shutil.copy2(REPO / "nbgrader_config.py", course / "nbgrader_config.py")
    shutil.copytree(REPO / "solutions" / AID, course / "solutions" / AID, ignore=shutil.ignore_patterns("*.py"))
    # (the test configuration's nbgrader setting: each student's id is their hub name, see tests/hub_test_config.py)
    student_config = base / "test-jupyter-config"
    student_config.mkdir()
    (student_config / "nbgrader_config.py").write_text(
        'import os\nc = get_config()\nif os.environ.get("VAECOURSE_ROLE") == "student":\n'
        '    c.CourseDirectory.student_id = os.environ["JUPYTERHUB_USER"]\n', encoding="utf-8")
    roster = base / "students.csv"
    roster.write_text("id,first_name,last_name,email\n" + "".join(f"{s},,,\n" for s in STUDENTS), encoding="utf-8")
    password, service_token = secrets.token_urlsafe(12), secrets.token_hex(32)
    port = free_port()

    with temporary_server() as postgres:
        # the instructor's gradebook, named in their nbgrader_config.py as INSTRUCTORS.md says
        gradebook = postgres.create_database("gradebook")
        with (course / "nbgrader_config.py").open("a", encoding="utf-8") as config:
            config.write(f'\nc.CourseDirectory.db_url = "{gradebook}"\n')
        env = {**os.environ, **thread_environment(1),
               "VAECOURSE_HUB_URL": f"http://127.0.0.1:{port}", "VAECOURSE_HUB_STATE": str(base / "state"),
               "VAECOURSE_EXCHANGE": str(base / "exchange"), "VAECOURSE_COURSE_ROOT": str(course),
               "VAECOURSE_INSTRUCTORS": INSTRUCTOR, "VAECOURSE_ROSTER": str(roster),
               "VAECOURSE_TEST_HOMES": str(homes), "VAECOURSE_TEST_HUB_PASSWORD": password,
               "VAECOURSE_TEST_HUB_TOKEN": service_token, "VAECOURSE_TEST_HUB_API_PORT": str(free_port()),
               "VAECOURSE_TEST_PROXY_API_PORT": str(free_port()), "VAECOURSE_TEST_JUPYTER_CONFIG": str(student_config),
               "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
        with running_hub(base, env):
            hub = Hub(env["VAECOURSE_HUB_URL"], password, service_token)
            for user in (INSTRUCTOR, *STUDENTS):  # everyone logs in and asks for a server; they start side by side
                hub.login(user)
                hub.start_server(user)
            for user in (INSTRUCTOR, *STUDENTS):
                hub.wait_for_server(user)

            # nbgrader's instructor tools: the instructor's server has the formgrader, a student's has not
            hub.api(INSTRUCTOR, "GET", f"/user/{INSTRUCTOR}/formgrader/api/assignments")
            refused = hub.api("ada", "GET", "/user/ada/formgrader/api/assignments", expect=None)
            assert refused.status_code in (403, 404), f"a student reached the formgrader: {refused.status_code}"

            # the instructor generates and releases q0 into the exchange (the formgrader's buttons)
            hub.formgrader("assign")
            hub.formgrader("release")
            exchange_mode = (base / "exchange").stat().st_mode & 0o7777
            assert exchange_mode == 0o1777, f"the exchange's mode is {oct(exchange_mode)}, nbgrader wants 1777"

            # each student fetches, answers in the fetched notebook (the contents API), and submits
            release = nbformat.read(course / "exercises" / AID / f"{AID}.ipynb", as_version=4)
            source = nbformat.read(REPO / "solutions" / AID / f"{AID}.ipynb", as_version=4)
            paths = {"exchange": str(base / "exchange"), "homes": str(homes), "course": str(course)}
            for student in STUDENTS:
                listed = hub.assignments(student)
                assert any(a["assignment_id"] == AID and a["status"] == "released" for a in listed), listed
                hub.assignments(student, "fetch")
                fetched = hub.read_notebook(student, f"{AID}/{AID}.ipynb")
                assert [c.source for c in fetched.cells] == [c.source for c in release.cells], \
                    f"{student} fetched something else than the release"
                hub.write_notebook(student, f"{AID}/{AID}.ipynb", handed_in(student, fetched, source, paths))
                hub.assignments(student, "submit")

            # the instructor collects, autogrades in parallel into PostgreSQL, and releases feedback
            hub.formgrader("collect")
            collected = sorted(p.name for p in (course / "submitted").iterdir())
            assert collected == sorted(STUDENTS), f"collected {collected}"
            instructor_env = {**env, "HOME": str(homes / INSTRUCTOR), "USER": INSTRUCTOR,
                              "JUPYTER_CONFIG_DIR": str(base / "instructor-jupyter-config")}
            graded = subprocess.run([sys.executable, "-m", "vaecourse.parallel_grading", AID, "--workers", "2", "--",
                                     "--create", "--force"], cwd=course, env=instructor_env, capture_output=True,
                                    text=True, timeout=600)
            logs = "\n".join(p.read_text() for p in course.glob("parallel-autograde-*.log"))
            assert graded.returncode == 0, f"autograde failed:\n{graded.stdout}\n{graded.stderr}\n{logs[-4000:]}"
            hub.formgrader("generate_feedback")
            hub.formgrader("release_feedback")

            # each student fetches feedback: exactly their own
            for student, (_, score) in STUDENTS.items():
                hub.assignments(student, "fetch_feedback")
                folders = hub.listing(student, f"{AID}/feedback")
                assert len(folders) == 1, f"{student} has {len(folders)} feedback folders: {folders}"
                files = hub.listing(student, folders[0])
                assert [Path(f).name for f in files] == [f"{AID}.html"], f"{student}'s feedback: {files}"
                page = hub.api(student, "GET", f"/user/{student}/files/{files[0]}").text
                assert MARKER.format(student=student) in page, f"{student}'s feedback is not of their notebook"
                others = [s for s in STUDENTS if s != student and MARKER.format(student=s) in page]
                assert not others, f"{student}'s feedback shows the notebooks of {others}"
                shown = re.search(r"Score:\s*([0-9.]+)\s*/\s*([0-9.]+)", page)
                assert shown and float(shown.group(1)) == score, \
                    f"{student}'s feedback shows {shown.group(0) if shown else 'no score'}, expected {score:g}"

            # the control of the check below: while the hub runs, it sees the hub, the proxy and the six servers
            running = processes_started_under(str(base))
            assert len(running) >= 2 + 1 + len(STUDENTS), \
                f"the leftover check sees only {len(running)} processes of the running hub: it would miss leftovers"
            exported = subprocess.run([sys.executable, "-m", "nbgrader", "export", "--to", str(base / "grades.csv")],
                                      cwd=course, env=instructor_env, capture_output=True, text=True, timeout=300)
            assert exported.returncode == 0, exported.stderr[-3000:]
        # (the hub stopped here: every server and the proxy with it)
        leftovers = processes_started_under(str(base))
        assert not leftovers, f"left running after the hub stopped: {[' '.join(p.cmdline())[:200] for p in leftovers]}"
        for used in (port, int(env["VAECOURSE_TEST_HUB_API_PORT"]), int(env["VAECOURSE_TEST_PROXY_API_PORT"])):
            with socket.socket() as probe:
                assert probe.connect_ex(("127.0.0.1", used)) != 0, f"port {used} still answers after the hub stopped"

    with open(base / "grades.csv", newline="", encoding="utf-8") as handle:
        grades = {row["student_id"]: float(row["score"]) for row in csv.DictReader(handle)}
    expected = {student: score for student, (_, score) in STUDENTS.items()}
    assert grades == expected, f"exported grades {grades}, expected {expected}"
    # The control: the copier's own search, run here outside the sandbox, finds the others' notebooks (so its "found:
    # 0" in the grader is the sandbox's doing, not a wrong path).
    found_here = {}
    exec(COPIER.format(**paths).split("print(")[0], found_here)  # the search only, not the exec of what it finds
    assert found_here["_found"], "the copier's search finds nothing even unconfined: the test proves nothing"
    copier_feedback = (homes / "eve" / AID / "feedback")
    page = next(copier_feedback.rglob("*.html")).read_text(encoding="utf-8")
    assert "other students&#39; notebooks found: 0" in page or "other students' notebooks found: 0" in page, \
        "the copier's feedback does not show that it found nothing"

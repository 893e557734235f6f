"""The grading sandbox (vaecourse.sandbox): each attack a hostile submission made on the unconfined grader, run
in one sandboxed kernel, and what the sandbox does to it.

One kernel runs a notebook of attacks (a few seconds); each test reads one cell's outputs. Every attack
is checked against its own negative control: the same cell run by an *unconfined* kernel must succeed
(else the test could pass because the attack was broken, not because the sandbox stopped it).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from pathlib import Path

import nbformat
import pytest
from traitlets.config import Config
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

from system_tools import missing
from vaecourse.sandbox import PACKAGE_DIR, SandboxedKernelManager, SandboxUnavailable, find_bubblewrap

ROOT = Path(__file__).resolve().parent.parent
MARKER = f"vaecourse-sandbox-test-{uuid.uuid4().hex[:8]}"  # in the command line of the processes the attacks start


def needs_bubblewrap() -> None:
    if not find_bubblewrap():
        missing("bubblewrap (bwrap) is not installed, so the grading sandbox cannot be tested",
                "install it: `sudo apt-get install bubblewrap` (Debian, Ubuntu)")


ENDLESS_CELL = "import time\ntime.sleep(40)"


def attack_cells(port: int) -> dict[str, str]:
    """name -> the code of one attack; each prints one line 'RESULT <what happened>'."""
    return {
        "read the course": f"""
import os
found = [p for p in ({str(ROOT / 'solutions')!r}, {str(ROOT / 'gradebook.db')!r}, {str(ROOT / 'nbgrader_config.py')!r})
         if os.path.exists(p)]
print("RESULT", "readable:" if found else "hidden", *found)""",
        "package is importable": """
import vaecourse
print("RESULT", "imported", vaecourse.__file__)""",
        "network": f"""
import os
import socket
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=2).close()
    print("RESULT", "connected")
except OSError as error:
    print("RESULT", "blocked", type(error).__name__)""",
        "detached process": f"""
import subprocess, sys
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "{MARKER}"], start_new_session=True,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print("RESULT", "started")""",
        "write beside the submission": """
open("written_by_kernel.txt", "w").write("x")
print("RESULT", "written")""",
        "memory": """
try:
    block = bytearray(1536 * 2**20)  # 1.5 GiB, over the test's 1 GiB cap
    print("RESULT", "allocated", len(block))
    del block
except MemoryError:
    print("RESULT", "refused")""",
        "processes": """
import subprocess
children = []
try:
    for _ in range(100):
        children.append(subprocess.Popen(["sleep", "30"]))
    print("RESULT", "started", len(children))
except OSError as error:
    print("RESULT", "refused after", len(children), type(error).__name__)
for child in children:
    child.kill()""",
        "file size": """
try:
    with open("big.bin", "wb") as f:
        f.write(b"0" * (64 * 2**20))  # 64 MiB, over the test's 16 MiB cap
    print("RESULT", "wrote 64 MiB")
except OSError as error:
    print("RESULT", "refused", error.errno)""",
        "cache is read-only": """
import os, vaecourse.config
cache = vaecourse.config.cache_dir()
try:
    open(os.path.join(cache, "planted.txt"), "w").write("x")
    print("RESULT", "wrote", cache)
except OSError as error:
    print("RESULT", "refused", error.errno, cache)""",
        "endless cell": ENDLESS_CELL,
        "after the endless cell": 'print("RESULT", "ran")',
    }


def run_attacks(manager_class, config, workdir: Path, port: int, *, skip: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """Run the attacks in one kernel of ``manager_class``, shut down as nbgrader's executor does."""
    cells = {name: code for name, code in attack_cells(port).items() if name not in skip}
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code) for code in cells.values()])
    client = NotebookClient(nb, kernel_manager_class=manager_class, config=config, kernel_name="python3",
                            resources={"metadata": {"path": str(workdir)}}, timeout=60,
                            # the endless cell is cut after 5 s; the others get a minute (a busy machine)
                            timeout_func=lambda cell: 5 if cell.source == ENDLESS_CELL else 60,
                            allow_errors=True, interrupt_on_timeout=True,
                            error_on_timeout={"ename": "CellTimeoutError", "evalue": "timed out", "traceback": []},
                            # nbclient waits 4 s by default for a cell's outputs after its reply, then goes on
                            # without them: under a full suite the memory cell's line was lost once that way
                            iopub_timeout=30)
    client.execute()
    results = {}
    for name, cell in zip(cells, nb.cells):
        lines = []
        for output in cell.outputs:
            if output.output_type == "stream":
                lines += [line[len("RESULT "):] for line in output.text.splitlines() if line.startswith("RESULT ")]
            elif output.output_type == "error":
                lines.append(f"error {output.ename}")
        results[name] = lines
    return results


def marker_processes() -> list[str]:
    found = subprocess.run(["pgrep", "-af", MARKER], capture_output=True, text=True).stdout.splitlines()
    return [line for line in found if "pgrep" not in line]


@pytest.fixture(scope="module")
def listener():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    yield server.getsockname()[1]
    server.close()


def _run(manager_class, config, tmp_path_factory, port, skip=()):
    workdir = tmp_path_factory.mktemp("submission")
    (workdir / "submission.ipynb").write_text("{}")
    started = time.monotonic()
    results = run_attacks(manager_class, config, workdir, port, skip=skip)
    time.sleep(0.5)  # let the kernel's namespace end
    return {"results": results, "workdir": workdir, "leftovers": marker_processes(),
            "seconds": time.monotonic() - started}


@pytest.fixture(scope="module")
def sandboxed(tmp_path_factory, listener):
    needs_bubblewrap()
    config = Config()
    config.SandboxedKernelManager.memory_mib = 1024
    config.SandboxedKernelManager.max_processes = 32
    config.SandboxedKernelManager.file_size_mib = 16
    return _run(SandboxedKernelManager, config, tmp_path_factory, listener)


@pytest.fixture(scope="module")
def unconfined(tmp_path_factory, listener):
    """The negative control: the same attacks in an ordinary kernel succeed."""
    run = _run(AsyncKernelManager, Config(), tmp_path_factory, listener,
               skip=("endless cell", "after the endless cell", "cache is read-only"))
    for line in run["leftovers"]:  # the detached process outlived that kernel, as it does in the unconfined grader
        subprocess.run(["kill", line.split()[0]], check=False)
    return run


def test_control_every_attack_succeeds_without_the_sandbox(unconfined):
    results = unconfined["results"]
    assert results["read the course"][0].startswith("readable:"), results
    assert results["network"] == ["connected"], results
    assert results["memory"][0].startswith("allocated"), results
    assert results["processes"] == ["started 100"], results
    assert results["file size"] == ["wrote 64 MiB"], results
    assert (unconfined["workdir"] / "written_by_kernel.txt").exists()
    assert unconfined["leftovers"], "the detached process should outlive an unconfined kernel"


def test_sandbox_hides_the_course_but_not_the_package(sandboxed):
    results = sandboxed["results"]
    assert results["read the course"] == ["hidden"], results
    assert results["package is importable"] == [f"imported {PACKAGE_DIR / '__init__.py'}"], results


def test_sandbox_has_no_network(sandboxed):
    assert sandboxed["results"]["network"][0].startswith("blocked"), sandboxed["results"]


def test_sandbox_processes_die_with_the_kernel(sandboxed):
    assert sandboxed["results"]["detached process"] == ["started"], sandboxed["results"]
    assert sandboxed["leftovers"] == [], f"processes that outlived the sandboxed kernel: {sandboxed['leftovers']}"


def test_sandbox_writes_go_to_a_copy(sandboxed):
    assert sandboxed["results"]["write beside the submission"] == ["written"], sandboxed["results"]
    assert sorted(p.name for p in sandboxed["workdir"].iterdir()) == ["submission.ipynb"]


@pytest.mark.parametrize("attack, expected", [("memory", "refused"), ("processes", "refused after"),
                                               ("file size", "refused 27")])  # 27: EFBIG
def test_sandbox_caps(sandboxed, attack, expected):
    assert sandboxed["results"][attack][0].startswith(expected), sandboxed["results"][attack]


def test_sandbox_reads_the_course_cache_but_cannot_change_it(sandboxed):
    # 30: EROFS. The kernel finds the cache where vaecourse looks (VAECOURSE_CACHE), bound read-only.
    assert sandboxed["results"]["cache is read-only"] == ["refused 30 /run/vaecourse-cache"], sandboxed["results"]


def test_sandbox_interrupts_an_endless_cell_and_goes_on(sandboxed):
    # interrupted by message (a signal cannot reach the kernel's own session): the kernel answers KeyboardInterrupt
    assert sandboxed["results"]["endless cell"] in (["error KeyboardInterrupt"], ["error CellTimeoutError"]), sandboxed["results"]
    assert sandboxed["results"]["after the endless cell"] == ["ran"], sandboxed["results"]


def test_without_bubblewrap_the_sandbox_refuses_to_start(tmp_path, monkeypatch):
    monkeypatch.setattr("vaecourse.sandbox.find_bubblewrap", lambda: None)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])
    with pytest.raises(SandboxUnavailable, match="apt-get install bubblewrap.*--SandboxedKernelManager.unsafe=True"):
        NotebookClient(nb, kernel_manager_class=SandboxedKernelManager, kernel_name="python3",
                       resources={"metadata": {"path": str(tmp_path)}}).execute()


def test_unsafe_switch_runs_the_kernel_unconfined_and_says_so(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr("vaecourse.sandbox.find_bubblewrap", lambda: None)
    config = Config()
    config.SandboxedKernelManager.unsafe = True
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import os\nprint(os.path.exists(%r))"
                                                                   % str(ROOT / "solutions"))])
    NotebookClient(nb, kernel_manager_class=SandboxedKernelManager, config=config, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert nb.cells[0].outputs[0].text == "True\n"  # the course is in reach: that is what unsafe means


def test_sandbox_refuses_a_course_inside_what_it_shows(tmp_path):
    """A submission folder inside a folder the sandbox shows read-only (the Python environment, /usr) would expose the
    course: sandbox_command refuses before starting anything. Control: a folder beside the environment is accepted."""
    import sys

    from vaecourse.sandbox import refuse_exposed_course, sandbox_command

    inside = os.path.join(sys.prefix, "course", "autograded", "alice", "q0_warmup")
    with pytest.raises(SandboxUnavailable, match="lies inside it"):
        sandbox_command(["python"], workdir=inside, sandbox_home=str(tmp_path), run_dir=str(tmp_path),
                        memory_mib=1024, processes=8, file_size_mib=8, uid=2_000_001)
    with pytest.raises(SandboxUnavailable, match="/usr"):
        refuse_exposed_course("/usr/local/course/autograded/alice/q0_warmup", ["/usr", "/etc"])
    refuse_exposed_course(str(tmp_path / "course" / "autograded"), ["/usr", "/etc", sys.prefix])  # the control

"""A JupyterLab server for the tests (test_jupyterlab.py, test_browser.py).

Started on a free localhost port with a random token and a temporary HOME, settings and workspaces
folder, so nothing is written into the real home; stopped through its REST API, and it reports the
processes it started (kernels included) that outlive it.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LabServer:
    """``jupyter lab`` serving ``root``; ``home`` holds its HOME, ``lab-settings`` and ``lab-workspaces``.

    ``env`` is added to this process's environment (the kernels inherit it); ``extra_args`` go to the
    command line. The server's output goes to ``log_path`` (default: ``home / "server.log"``).
    """

    def __init__(self, root: Path, home: Path, *, env: dict | None = None, extra_args: tuple = (),
                 log_path: Path | None = None):
        self.token = secrets.token_hex(16)
        self.log_path = log_path or home / "server.log"
        # The port is free when chosen, but another process (a kernel of a parallel test worker) may
        # take it before the server binds it. With port_retries=0 the server then exits instead of
        # quietly moving to another port, and a new port is tried.
        for _ in range(5):
            self.port = free_port()
            self.url = f"http://127.0.0.1:{self.port}"
            if self._start(root, home, env, extra_args):
                return
        pytest.fail(f"jupyter lab found no free port in 5 attempts:\n{self.log_path.read_text()[-3000:]}", pytrace=False)

    def _start(self, root: Path, home: Path, env: dict | None, extra_args: tuple) -> bool:
        """Start the server on ``self.port``; False if the port was taken meanwhile, fail on any other problem."""
        import psutil

        self._log = self.log_path.open("w")
        command = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={self.port}", "--ServerApp.port_retries=0",
                   "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={root}",
                   f"--LabApp.user_settings_dir={home / 'lab-settings'}",
                   f"--LabApp.workspaces_dir={home / 'lab-workspaces'}", *extra_args]
        if os.geteuid() == 0:
            command.append("--allow-root")  # CI runs as root; jupyter refuses to start as root without it
        full_env = {**os.environ, "HOME": str(home), "JUPYTER_PLATFORM_DIRS": "1",
                    "JUPYTER_RUNTIME_DIR": str(home / "runtime"), **(env or {})}
        self.process = subprocess.Popen(command, cwd=root, env=full_env, stdout=self._log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        self._psutil_process = psutil.Process(self.process.pid)
        deadline = time.monotonic() + 90
        while True:
            if self.process.poll() is not None:
                self._log.close()
                log = self.log_path.read_text()
                if "already in use" in log:
                    return False
                pytest.fail(f"jupyter lab exited at start:\n{log[-3000:]}", pytrace=False)
            try:
                status = self.api("GET", "status")
                if isinstance(status, dict) and "started" in status:  # a Jupyter server, not something else
                    return True
            except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError, http.client.HTTPException):
                pass
            if time.monotonic() > deadline:
                self.process.kill()
                pytest.fail(f"jupyter lab did not answer within 90 s:\n{self.log_path.read_text()[-3000:]}",
                            pytrace=False)
            time.sleep(0.2)

    def api(self, method: str, path: str):
        """Call the REST API (``/api/<path>``) with the token; return the decoded JSON answer, if any."""
        request = urllib.request.Request(f"{self.url}/api/{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shut_down_kernels(self) -> None:
        for session in self.api("GET", "sessions"):
            self.api("DELETE", f"sessions/{session['id']}")
        for kernel in self.api("GET", "kernels"):
            self.api("DELETE", f"kernels/{kernel['id']}")

    def stop(self) -> list[str]:
        """Shut the server down; kill the processes it started (kernels included) that outlived it; return their names."""
        import psutil

        started = self._psutil_process.children(recursive=True)
        try:
            self.api("POST", "shutdown")
            self.process.wait(30)
        except Exception:  # noqa: BLE001 - whatever happened, the process group goes next
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        self._log.close()
        _, alive = psutil.wait_procs(started, timeout=15)
        left = []
        for process in alive:
            with contextlib.suppress(psutil.NoSuchProcess):  # one that ended meanwhile was not left over
                name = process.name()
                process.kill()
                left.append(f"{name} ({process.pid})")
        return left

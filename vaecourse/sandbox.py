"""Kernels for untrusted notebooks: each runs in a bubblewrap sandbox with resource caps.

``nbgrader autograde`` and ``nbgrader validate`` run a submission's code with the grader's rights
unless the kernel is confined. :class:`SandboxedKernelManager`, the course's kernel manager for
grading (``nbgrader_config.py``), starts every kernel through `bubblewrap <https://github.com/containers/bubblewrap>`_
(Debian's ``bubblewrap`` package) so that the kernel:

- sees a **writable copy** of the submission's folder (its working directory) and, read-only, the
  Python installation, the environment's packages, the ``vaecourse`` package alone and the course's
  cache (``vc.config.cache_dir()``: the digits as arrays, the reference classifier); not the course
  root, ``solutions/``, ``source/``, ``gradebook.db``, ``submitted/``, ``autograded/``, ``feedback/``
  or anyone's home (``/etc`` and ``/usr`` are visible, read-only);
- has **no network**: its own network namespace, with a loopback device of its own; the grader talks
  to it over Unix sockets (ZeroMQ's ``ipc`` transport) in a folder of the copy;
- takes every process it starts with it: its own PID namespace, which ends with the kernel, and
  ``--die-with-parent``;
- is capped (:mod:`vaecourse._confine`): memory (the data segment), processes, size of a written file,
  no core dumps; as a user of its own (no account) when the grader is root.

The total wall time per notebook is capped by the grader's executor (:mod:`vaecourse.autograde`).
Where bubblewrap is missing the manager refuses to start a kernel, unless the instructor sets
``--SandboxedKernelManager.unsafe=True`` (then the kernel runs unconfined, and a warning says so).

docs/design.md (section 6) describes what the sandbox does not do.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sys
import sysconfig
import tempfile
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, Integer, Unicode

import vaecourse
from vaecourse.config import CACHE_ENV_VAR, cache_dir

PACKAGE_DIR = Path(vaecourse.__file__).resolve().parent
# the users root-started kernels run as: numbers above any account's, one per kernel (vaecourse._confine)
KERNEL_UIDS = range(2_000_000, 3_000_000)
KERNEL_RUN_DIR = "/run/kernel"
KERNEL_CACHE_DIR = "/run/vaecourse-cache"


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing and the instructor did not allow unconfined kernels."""


def find_bubblewrap() -> str | None:
    return shutil.which("bwrap")


def _python_roots() -> list[str]:
    """The folders a Python process of this environment reads: the interpreter's and the environment's."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             str(Path(sys.executable).resolve().parent.parent)}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        roots.add(sysconfig.get_paths()[key])
    # drop nested entries: binding a parent is enough
    ordered = sorted({os.path.realpath(r) for r in roots} | roots, key=len)
    kept: list[str] = []
    for root in ordered:
        if os.path.isdir(root) and not any(root == k or root.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(root)
    return kept


def refuse_exposed_course(workdir: str, exposed: list[str]) -> None:
    """Raise SandboxUnavailable if a folder the sandbox shows (read-only) holds the submission's folder.

    The submission's folder lies inside the course (autograded/<student>/<aid>), so such a folder would show
    the course, its solutions and its gradebook to every kernel: a Python environment created inside the
    course folder (``python -m venv .``) or a course kept under /usr.
    """
    workdir = os.path.realpath(workdir)
    for root in exposed:
        real = os.path.realpath(root)
        if workdir == real or workdir.startswith(real.rstrip("/") + "/"):
            raise SandboxUnavailable(
                f"the sandbox shows {root} to every kernel (the Python environment, or the system's files), and "
                f"{workdir}, where the submission is graded, lies inside it: the kernel would see the course, its "
                "solutions and its gradebook. Keep the course outside the Python environment and outside /usr and "
                "/etc (the course's own .venv inside the course folder is fine)")


def sandbox_command(kernel_cmd: list[str], *, workdir: str, sandbox_home: str, run_dir: str, memory_mib: int,
                    processes: int, file_size_mib: int, uid: int, bwrap: str = "bwrap") -> list[str]:
    """The bubblewrap command line that runs ``kernel_cmd`` confined.

    ``sandbox_home`` (the copy of the submission's folder) appears at ``workdir``, ``run_dir`` (connection
    file and sockets) at /run/kernel.
    """
    if os.getuid() == 0:
        # no user namespace (the kernel's user must be a real uid, for the process cap); bwrap drops root's
        # capabilities but the two that vaecourse._confine needs to become that user
        command = [bwrap, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
                   "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:  # an unprivileged bwrap needs a user namespace for the others
        command = [bwrap, "--unshare-all"]
    command += ["--die-with-parent", "--new-session",
                # 1: no parent poller (its parent in the PID namespace is not the grader) and no console banner
                "--setenv", "JPY_PARENT_PID", "1",
                "--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc"]
    for link in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        target = os.path.join("/", link)
        if os.path.islink(target):
            command += ["--symlink", os.readlink(target), target]
        elif os.path.isdir(target):
            command += ["--ro-bind", target, target]
    # /tmp and /dev/shm world-writable as on any Linux (joblib's and multiprocessing's semaphores live in /dev/shm)
    command += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/dev/shm",
                "--perms", "1777", "--tmpfs", "/tmp", "--tmpfs", "/run"]
    read_only = [root for root in _python_roots() if not root.startswith(("/usr/", "/etc/")) and root not in ("/usr", "/etc")]
    read_only.append(str(PACKAGE_DIR))
    refuse_exposed_course(workdir, ["/usr", "/etc", *read_only])
    # bwrap makes missing parent folders of a mount point private (0700); the kernel, as another user, must pass through
    parents: list[str] = []
    for target in [*read_only, workdir]:
        for parent in reversed(Path(target).parents):
            if str(parent) not in ("/", "/tmp", "/run") and str(parent) not in parents:
                parents.append(str(parent))
    for parent in parents:
        command += ["--perms", "0755", "--dir", parent]
    for root in read_only:
        command += ["--ro-bind", root, root]
    # the course's cache (the embedded digits as arrays, the reference classifier), read-only: a kernel reads
    # what the grader's machine computed once instead of computing it again; it cannot change it
    cache = cache_dir()
    command += ["--ro-bind", cache, KERNEL_CACHE_DIR, "--setenv", CACHE_ENV_VAR, KERNEL_CACHE_DIR]
    command += ["--bind", run_dir, KERNEL_RUN_DIR]
    command += ["--bind", sandbox_home, workdir, "--chdir", workdir, "--setenv", "HOME", workdir,
                "--setenv", "MPLCONFIGDIR", os.path.join(workdir, ".matplotlib"), "--setenv", "TMPDIR", "/tmp"]
    command += [sys.executable, "-m", "vaecourse._confine", "--memory-mib", str(memory_mib),
                "--processes", str(processes), "--file-size-mib", str(file_size_mib), "--uid", str(uid), "--", *kernel_cmd]
    return command


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels run in a bubblewrap sandbox (see the module's docstring)."""

    memory_mib = Integer(4096, help="cap on the kernel's data segment (heap, tensors), MiB").tag(config=True)
    max_processes = Integer(64, help="cap on the processes (and threads) the kernel may run").tag(config=True)
    file_size_mib = Integer(256, help="cap on the size of any file the kernel writes, MiB").tag(config=True)
    unsafe = Bool(False, help="run kernels unconfined where bubblewrap is missing (student code gets the "
                              "grader's rights)").tag(config=True)
    bwrap = Unicode("", help="path of the bwrap executable (default: found on PATH)").tag(config=True)

    def __init__(self, **kwargs):
        kwargs.setdefault("transport", "ipc")
        super().__init__(**kwargs)
        self._sandbox_dir: str | None = None

    @property
    def _run_dir(self) -> str:
        """The kernel's connection file and sockets, outside the sandbox (/run/kernel inside)."""
        return os.path.join(self._sandbox_dir, "run")

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw) -> None:
        bwrap = self.bwrap or find_bubblewrap()
        if not bwrap:
            if not self.unsafe:
                raise SandboxUnavailable(
                    "bubblewrap (bwrap) is not installed, so a submission's kernel would run with your rights: it could "
                    "read the solutions and the gradebook and outlive the batch. Install it (Debian/Ubuntu: apt-get "
                    "install bubblewrap) or, knowing this, pass --SandboxedKernelManager.unsafe=True.")
            self.log.warning("bubblewrap is missing: this kernel runs UNCONFINED (--SandboxedKernelManager.unsafe=True)")
            return await super()._async_launch_kernel(kernel_cmd, **kw)
        workdir = os.path.abspath(kw.get("cwd") or os.getcwd())
        sandbox_home = os.path.join(self._sandbox_dir, "work")
        shutil.copytree(workdir, sandbox_home, symlinks=True, dirs_exist_ok=True)
        os.chmod(sandbox_home, 0o711)  # bwrap, without its capabilities, must enter it to start the kernel there
        # the kernel reads its connection file and makes its sockets in a folder of its own, /run/kernel inside
        with open(self.connection_file) as f:
            connection = json.load(f)
        connection["ip"] = f"{KERNEL_RUN_DIR}/ipc"
        with open(os.path.join(self._run_dir, "connection.json"), "w") as f:
            json.dump(connection, f)
        kernel_cmd = [f"{KERNEL_RUN_DIR}/connection.json" if arg == self.connection_file else arg for arg in kernel_cmd]
        uid = random.SystemRandom().choice(KERNEL_UIDS)
        if os.getuid() == 0:  # the kernel drops to its own user (vaecourse._confine): give it its folders
            for top in (sandbox_home, self._run_dir):
                for folder, _, files in os.walk(top):
                    for name in [folder, *(os.path.join(folder, f) for f in files)]:
                        os.lchown(name, uid, uid)
        command = sandbox_command(kernel_cmd, workdir=workdir, sandbox_home=sandbox_home,
                                  run_dir=self._run_dir, memory_mib=self.memory_mib,
                                  processes=self.max_processes, file_size_mib=self.file_size_mib, uid=uid, bwrap=bwrap)
        kw["cwd"] = self._sandbox_dir
        return await super()._async_launch_kernel(command, **kw)

    async def _async_pre_start_kernel(self, **kw):
        self._sandbox_dir = tempfile.mkdtemp(prefix="vaecourse-sandbox-")
        os.makedirs(self._run_dir)
        kernel_cmd, kw = await super()._async_pre_start_kernel(**kw)
        # a signal sent to bwrap's process group does not reach the kernel in its own session: interrupt by message
        self.kernel_spec.interrupt_mode = "message"
        return kernel_cmd, kw

    def write_connection_file(self, **kwargs):
        # the sockets: outside the sandbox <sandbox dir>/run/ipc-<port>, inside /run/kernel/ipc-<port>; the grader
        # connects through the outside path, the kernel binds the inside one (a short path: sockets allow 107 bytes)
        if self.transport == "ipc" and self._sandbox_dir:
            self.ip = os.path.join(self._run_dir, "ipc")
        return super().write_connection_file(**kwargs)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if self._sandbox_dir and not restart:
            shutil.rmtree(self._sandbox_dir, ignore_errors=True)
            self._sandbox_dir = None

    cleanup_resources = _async_cleanup_resources

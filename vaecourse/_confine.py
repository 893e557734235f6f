"""Resource caps for a sandboxed kernel, then ``exec`` of the kernel (run inside the sandbox).

    python -m vaecourse._confine --memory-mib 4096 --processes 64 --file-size-mib 256 --uid 2345678 -- python -m ipykernel_launcher ...

Standard library only, so that it starts in milliseconds. The caps are rlimits: the data segment
(``RLIMIT_DATA``: heap and anonymous mappings, which is where torch's tensors live; ``RLIMIT_AS`` would
also count torch's large reserved-but-unused mappings and stop its import), the size of any file
written (``RLIMIT_FSIZE``), no core dumps, and the number of processes (``RLIMIT_NPROC``). The kernel
refuses to count processes of root, and counts them per user: so when the grader runs as root the
kernel first drops to a user of its own (``--uid``, a number no other kernel uses, with no account and
no supplementary groups), and one submission's processes cannot use up another's cap. For a grader
that is not root, the process cap counts the grader's own processes too: it is set to what the user
runs now plus the cap.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys


def _processes_of(uid: int) -> int:
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += 1
            except OSError:  # the process ended while we looked
                pass
    return count


def confine(memory_mib: int, processes: int, file_size_mib: int, uid: int) -> None:
    """Set the caps on this process (inherited by what it executes); drop root to ``uid``."""
    mib = 2**20
    resource.setrlimit(resource.RLIMIT_DATA, (memory_mib * mib, memory_mib * mib))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_mib * mib, file_size_mib * mib))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if os.getuid() == 0:
        os.setgroups([])
        os.setgid(uid)
        resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
        os.setuid(uid)
    else:
        limit = _processes_of(os.getuid()) + processes
        resource.setrlimit(resource.RLIMIT_NPROC, (limit, limit))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m vaecourse._confine", description=__doc__.splitlines()[0])
    parser.add_argument("--memory-mib", type=int, required=True)
    parser.add_argument("--processes", type=int, required=True)
    parser.add_argument("--file-size-mib", type=int, required=True)
    parser.add_argument("--uid", type=int, required=True, help="user (and group) the kernel runs as when started by root")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command to run after --")
    confine(args.memory_mib, args.processes, args.file_size_mib, args.uid)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])

"""Run one command of the grader in a sandbox: its own process group, resource limits, no network.

Used by :mod:`minicnn.teaching.grade` for everything that executes a student's code (the import check,
pytest, the hidden probes). What it does, and how far each guard goes:

- **process group**: the command starts in a new session (``setsid``), so the whole group (pytest, any
  process a test forks) is killed with one ``killpg(SIGKILL)`` when the wall limit passes;
- **leftovers**: every process of the run carries the environment variable ``MINICNN_SANDBOX=<token>``;
  after the run, any process of this user still carrying the token (a grandchild that called ``setsid()``
  to leave the group) is killed too. A process that both leaves the group and clears its environment
  escapes this sweep (its CPU time is still capped by ``RLIMIT_CPU``);
- **limits** (``resource``, inherited by children): ``RLIMIT_CPU`` (CPU seconds per process),
  ``RLIMIT_AS`` (address space, MB), no core files;
- **no network**: when the kernel allows unprivileged user namespaces (most Linux distributions do),
  the command runs in a new user + network namespace, which has no interface but a down loopback:
  ``connect`` fails with "Network is unreachable" and names do not resolve. Otherwise (macOS, locked
  down kernels) the grader falls back to a Python-level guard that makes ``socket.connect`` raise, which
  a determined student can undo; :func:`network_isolation` says which one is in use;
- **wall limit**: a deadline for the whole command; before the kill the process group receives
  ``SIGUSR1`` (the grading plugin dumps every thread's stack to the log) so the log says where it hung.

Run as a script it is the launcher that applies the limits, then ``exec``'s the command::

    python sandbox.py --cpu 600 --memory-mb 4096 --no-network -- python -m pytest ...
"""

from __future__ import annotations

import argparse
import ctypes
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

TOKEN_VARIABLE = "MINICNN_SANDBOX"
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000


@dataclass(frozen=True)
class Limits:
    """Limits of one sandboxed run.

    Attributes
    ----------
    wall_seconds : float
        Wall-clock deadline of the whole command (the exercise's wall limit).
    cpu_seconds : int
        ``RLIMIT_CPU`` of every process (CPU seconds; the kernel kills with SIGXCPU/SIGKILL past it).
    memory_mb : int
        ``RLIMIT_AS`` of every process, in MB (0: no limit). Numba/LLVM reserve address space: keep >= 2048.
    network : bool
        Allow the network (default False).
    """

    wall_seconds: float = 300.0
    cpu_seconds: int = 600
    memory_mb: int = 4096
    network: bool = False


@dataclass
class RunResult:
    """What happened to one sandboxed command."""

    returncode: int | None
    timed_out: bool
    seconds: float
    leftovers_killed: int
    network: str
    cpu_seconds: float = 0.0  # user + system CPU of the command and every child it waited for


def _reap(proc: subprocess.Popen, deadline: float | None) -> float | None:
    """Wait for ``proc`` (until ``deadline``, or for ever when None) with ``os.wait4``; returns its CPU seconds
    (children it reaped included), or None when the deadline passed first. Sets ``proc.returncode``."""
    pause = 0.005
    while True:
        pid, status, usage = os.wait4(proc.pid, 0 if deadline is None else os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return usage.ru_utime + usage.ru_stime
        if time.monotonic() >= deadline:
            return None
        time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(pause * 2, 0.05)


def _unshare_network() -> bool:
    """Enter a new user + network namespace (Linux); False when the kernel refuses."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0
    except (OSError, AttributeError):
        return False


_ISOLATION: dict[str, str] = {}


def network_isolation() -> str:
    """``"namespace"`` when a child can enter a network namespace here, else ``"socket guard"`` (cached)."""
    if "mode" not in _ISOLATION:
        code = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import sandbox; sys.exit(0 if sandbox._unshare_network() else 1)"
        try:
            ok = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, timeout=30).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            ok = False
        _ISOLATION["mode"] = "namespace" if ok else "socket guard"
    return _ISOLATION["mode"]


def _processes_with_token(token: str) -> list[int]:
    """Processes of this user whose environment holds ``MINICNN_SANDBOX=token`` (Linux /proc)."""
    needle = f"{TOKEN_VARIABLE}={token}".encode()
    found = []
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    me = os.getpid()
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def kill_leftovers(token: str) -> int:
    """SIGKILL every process still carrying ``token``; returns how many were killed."""
    killed = 0
    for _ in range(3):  # a process may fork while we sweep
        pids = _processes_with_token(token)
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except OSError:
                pass
        time.sleep(0.05)
    return killed


def run(cmd: list[str], cwd: Path, env: dict, log: Path, limits: Limits, deadline: float | None = None) -> RunResult:
    """Run ``cmd`` sandboxed; stdout and stderr go to ``log`` (appended). Nothing is left running after it.

    Parameters
    ----------
    cmd : list of str
        The command (``python -m pytest ...``).
    cwd : path
        Working folder.
    env : dict
        Environment (the token variable is added).
    log : path
        File receiving stdout and stderr (kept after a timeout).
    limits : Limits
        Limits of this run.
    deadline : float, optional
        ``time.monotonic()`` value after which the run is killed (default: now + ``limits.wall_seconds``).
    """
    token = secrets.token_hex(8)
    env = dict(env)
    env[TOKEN_VARIABLE] = token
    mode = "allowed" if limits.network else network_isolation()
    env["MINICNN_GRADING_NETWORK"] = mode
    launcher = [sys.executable, "-I", str(Path(__file__).resolve()), "--cpu", str(int(limits.cpu_seconds)),
                "--memory-mb", str(int(limits.memory_mb))]  # fmt: skip
    if mode == "namespace":
        launcher.append("--no-network")
    start = time.monotonic()
    deadline = start + limits.wall_seconds if deadline is None else deadline
    log.parent.mkdir(parents=True, exist_ok=True)
    timed_out = False
    with open(log, "ab") as fh:
        proc = subprocess.Popen(
            [*launcher, "--", *cmd], cwd=cwd, env=env, stdout=fh, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        cpu = None
        try:
            cpu = _reap(proc, deadline)
            if cpu is None:
                timed_out = True
                try:
                    os.killpg(proc.pid, signal.SIGUSR1)  # the grading plugin dumps the stacks to the log
                    cpu = _reap(proc, time.monotonic() + 1.0)
                except OSError:
                    pass
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            if proc.returncode is None:
                cpu = _reap(proc, None)
    leftovers = kill_leftovers(token)
    return RunResult(
        returncode=None if timed_out else proc.returncode,
        timed_out=timed_out,
        seconds=round(time.monotonic() - start, 2),
        leftovers_killed=leftovers,
        network=mode,
        cpu_seconds=round(cpu or 0.0, 3),
    )


def _launch(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="apply limits, then exec the command")
    parser.add_argument("--cpu", type=int, required=True)
    parser.add_argument("--memory-mb", type=int, required=True)
    parser.add_argument("--no-network", action="store_true")
    parser.add_argument("cmd", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    cmd = args.cmd[1:] if args.cmd and args.cmd[0] == "--" else args.cmd
    import resource

    resource.setrlimit(resource.RLIMIT_CPU, (args.cpu, args.cpu + 5))
    if args.memory_mb > 0:
        size = args.memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (size, size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if args.no_network and not _unshare_network():
        os.environ["MINICNN_GRADING_NETWORK"] = "socket guard"
    os.execvpe(cmd[0], cmd, os.environ)
    return 127  # not reached


if __name__ == "__main__":
    sys.exit(_launch(sys.argv[1:]))

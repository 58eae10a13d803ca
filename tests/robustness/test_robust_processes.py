"""Kill -9 or SIGTERM of the main process: workers exit, temporary files go, no queued work runs on.

Hostile cases: kill -9 of a map_slides parent; SIGTERM of a map_slides parent (as ``camelyon`` runs
it); SIGTERM of a ``camelyon`` command (exit 143, one line).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from camelyon.executor import process_alive

HERE = Path(__file__).parent

PARENT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {here!r})
    from hostile_tasks import slow_task_with_temp_file
    from camelyon.executor import map_slides
    from camelyon.cli import _raise_terminated
    import signal
    if {handle_term}:
        signal.signal(signal.SIGTERM, _raise_terminated)
    items = [({folder!r}, i) for i in range(6)]
    try:
        for r in map_slides(slow_task_with_temp_file, items, workers=2, progress=False):
            print(r.item, r.error, flush=True)
    except KeyboardInterrupt:
        print("stopped", flush=True)
        sys.exit(143)
""")


def _start_parent(folder: Path, handle_term: bool) -> subprocess.Popen:
    code = PARENT.format(here=str(HERE), folder=str(folder), handle_term=handle_term)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 60
    while len(list(folder.glob("task_*.pid"))) < 2:  # both workers are inside a task
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail(f"workers did not start: {proc.communicate()}")
        time.sleep(0.05)
    return proc


def _worker_pids(folder: Path) -> list[int]:
    return [int(p.read_text()) for p in folder.glob("task_*.pid")]


def _wait_gone(pids, seconds=10.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        alive = [p for p in pids if process_alive(p)]
        if not alive:
            return []
        time.sleep(0.05)
    for p in alive:  # do not leave them behind even when the test fails
        os.kill(p, signal.SIGKILL)
    return alive


@pytest.mark.parametrize("how", ["kill -9", "SIGTERM"])
def test_workers_exit_and_clean_up_when_the_parent_dies_or_is_terminated(tmp_path, how):
    proc = _start_parent(tmp_path, handle_term=(how == "SIGTERM"))
    pids = _worker_pids(tmp_path)
    proc.send_signal(signal.SIGKILL if how == "kill -9" else signal.SIGTERM)
    proc.wait(timeout=30)
    assert _wait_gone(pids) == [], f"workers still running after {how} of their parent"
    assert list(tmp_path.glob(".task_*.tmp")) == [], "a worker left its temporary file"
    assert list(tmp_path.glob("task_*.done")) == [], "a task went on after its parent died"
    time.sleep(0.5)
    assert len(list(tmp_path.glob("task_*.pid"))) == 2, "a queued task started after the parent died"
    if how == "SIGTERM":
        assert proc.returncode == 143 and "stopped" in proc.stdout.read()


def test_sigterm_of_a_command_is_handled_like_ctrl_c(tmp_path, monkeypatch, capsys):
    import camelyon.commands.stage as stage
    from camelyon.cli import main

    monkeypatch.setattr(stage, "run", lambda args: os.kill(os.getpid(), signal.SIGTERM))
    status = main(["stage", str(tmp_path / "x.csv"), "--out", str(tmp_path / "y.csv")])
    assert status == 143
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("camelyon stage: terminated (SIGTERM);")
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # restored for the rest of the process


def test_sigterm_of_synth_removes_its_scratch_files_and_exits_143(tmp_path):
    """``camelyon synth`` of a big slide, terminated while painting: no scratch or temporary file is left."""
    out = tmp_path / "cohort"
    proc = subprocess.Popen([sys.executable, "-m", "camelyon.cli", "synth", str(out), "--patients", "1",
                             "--size", "16384", "--workers", "2", "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(out.rglob(".*raw-*")):  # painting has started: scratch files exist
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail(f"synth did not start painting: {proc.communicate()}")
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "terminated (SIGTERM); run the same command again to resume." in err
    time.sleep(0.5)  # workers unwind after the parent
    left = [p.name for p in out.rglob("*") if p.name.startswith(".")]
    assert left == [], f"left behind: {left}"

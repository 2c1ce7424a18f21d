"""The parent watch: a child ends once its parent is killed, at once or as on SIGTERM, and not before."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the tests kill with SIGKILL")

ROOT = Path(__file__).resolve().parents[3]

# The child: watches its parent as told, says so in the marker file, then idles; on SIGTERM it notes that.
CHILD = textwrap.dedent(
    """
    import os, signal, sys, time
    from synapse.embeddings import parent_watch as pw

    how, marker = sys.argv[1], sys.argv[2]
    def note(text):
        with open(marker, "a") as fh:
            fh.write(text + "\\n")
    if how == "sigterm-noted":
        signal.signal(signal.SIGTERM, lambda *_: (note("sigterm"), sys.exit(0)))
    if how == "sigterm-ignored":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if how == "pid":
        pw.watch_parent(int(sys.argv[3]))
    else:
        pw.watch_parent_from_env(pw.stop_gracefully(grace_s=1.0))
        note("env left: " + repr(os.environ.get(pw.PARENT_PID_ENV)))
    note(f"watching {os.getpid()}")
    while True:
        time.sleep(0.1)
    """
)
# The parent: starts the child (its pid as an argument, or in SYNAPSE_PARENT_PID), then idles until killed.
PARENT = textwrap.dedent(
    """
    import os, subprocess, sys, time
    how, marker, child = sys.argv[1], sys.argv[2], sys.argv[3]
    env = {**os.environ, "SYNAPSE_PARENT_PID": str(os.getpid())}
    subprocess.Popen([sys.executable, "-c", child, how, marker, str(os.getpid())], env=env)
    time.sleep(600)
    """
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # an exited child that nobody has reaped yet is gone too
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True  # no /proc (macOS): kill(0) answered


def _wait_for(marker: Path, prefix: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = marker.read_text().splitlines() if marker.exists() else []
        found = [line for line in lines if line.startswith(prefix)]
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"no {prefix!r} in {marker} after {timeout:.0f} s")


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _orphan(how: str, marker: Path) -> int:
    """Start the parent and its watching child, check the child stays while the parent lives, kill the parent."""
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, how, str(marker), CHILD], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    try:
        child = int(_wait_for(marker, "watching ").split()[1])
        time.sleep(1.5)  # a few of the watch's looks: a living parent does not end the child
        assert _alive(child)
    finally:
        parent.kill()
        parent.wait()
    return child


def test_a_child_ends_when_its_parent_is_killed(tmp_path: Path) -> None:
    child = _orphan("pid", tmp_path / "marker")
    try:
        assert _gone_within(child, 10), "the child outlived its killed parent"
    finally:
        if _alive(child):
            os.kill(child, signal.SIGKILL)


def test_a_child_told_by_the_environment_stops_as_on_sigterm(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    child = _orphan("sigterm-noted", marker)
    try:
        assert _gone_within(child, 10), "the child outlived its killed parent"
        assert "sigterm" in marker.read_text().splitlines()
        assert "env left: None" in marker.read_text()  # not handed down to the child's own children
    finally:
        if _alive(child):
            os.kill(child, signal.SIGKILL)


def test_a_child_that_ignores_sigterm_is_ended_after_the_grace(tmp_path: Path) -> None:
    child = _orphan("sigterm-ignored", tmp_path / "marker")
    try:
        assert _gone_within(child, 10), "the child outlived its killed parent"
    finally:
        if _alive(child):
            os.kill(child, signal.SIGKILL)


def test_a_parent_gone_before_the_watch_starts_is_noticed(tmp_path: Path) -> None:
    """The id given no longer names the child's parent (that process has ended): the child ends at once."""
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, "pid", str(tmp_path / "marker"), str(ended.pid)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    from synapse.embeddings.parent_watch import ORPHAN_EXIT_CODE

    assert done.returncode == ORPHAN_EXIT_CODE

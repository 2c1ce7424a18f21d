"""A child process that ends when its parent does, on Linux, macOS and Windows.

A child whose parent is killed (`kill -9`, a crash, the OOM killer) is re-parented and runs on: no
signal reaches it, and a pipe from the parent does not close while a process forked from the parent
still holds its other end. So a thread in the child looks at the parent itself: on POSIX whether
`os.getppid()` still names it (it changes once the parent is gone), on Windows by waiting on a handle
to the parent process (a process id may be reused; the handle keeps naming the process it was opened on).

Linux's `prctl(PR_SET_PDEATHSIG)` is not used: it fires when the *thread* that started the child ends,
and these children are often started from a worker thread (asyncio's `to_thread`) that may end first.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

#: Set by a parent in a child's environment: the child, at start, watches the process with this id.
PARENT_PID_ENV = "SYNAPSE_PARENT_PID"
#: The exit status of a child that ends because its parent has gone.
ORPHAN_EXIT_CODE = 75
#: How often a POSIX child looks at its parent; also the most a Windows child waits between checks.
POLL_S = 0.5


def exit_now() -> None:
    """End this process at once: nothing in it is worth saving once its parent is gone."""
    os._exit(ORPHAN_EXIT_CODE)


def stop_gracefully(grace_s: float = 20.0) -> Callable[[], None]:
    """An action that asks this process to stop as on SIGTERM, and ends it after `grace_s` if it has not."""

    def stop() -> None:
        if sys.platform == "win32":
            signal.raise_signal(signal.SIGTERM)  # a process-local raise runs Python's SIGTERM handler
        else:
            os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(grace_s)
        exit_now()

    return stop


def _parent_gone_posix(parent_pid: int) -> Callable[[float], bool]:
    def gone(wait_s: float) -> bool:
        if os.getppid() != parent_pid:
            return True
        time.sleep(wait_s)
        return os.getppid() != parent_pid

    return gone


def _parent_gone_windows(parent_pid: int) -> Callable[[float], bool] | None:
    import ctypes
    from ctypes import wintypes

    # Windows-only parts of ctypes: checked on Windows, unknown to a type check run elsewhere.
    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined,unused-ignore]
    kernel32.OpenProcess.argtypes = (wintypes.DWORD, wintypes.BOOL, wintypes.DWORD)
    kernel32.OpenProcess.restype = wintypes.HANDLE  # a pointer: the default int would cut 64-bit handles
    kernel32.WaitForSingleObject.argtypes = (wintypes.HANDLE, wintypes.DWORD)
    kernel32.WaitForSingleObject.restype = wintypes.DWORD
    synchronize, wait_object_0, error_invalid_parameter = 0x00100000, 0, 87
    handle = kernel32.OpenProcess(synchronize, False, parent_pid)
    if not handle:
        error = ctypes.get_last_error()  # type: ignore[attr-defined,unused-ignore]
        if error == error_invalid_parameter:  # no such process: it has gone already
            return lambda _wait_s: True
        return None  # a parent we may not open: watch nothing rather than guess

    def gone(wait_s: float) -> bool:
        return bool(kernel32.WaitForSingleObject(handle, int(wait_s * 1000)) == wait_object_0)

    return gone


def watch_parent(
    parent_pid: int, on_gone: Callable[[], None] = exit_now, poll_s: float = POLL_S
) -> threading.Thread | None:
    """Run `on_gone` in a daemon thread once the process `parent_pid` (this process's parent) has ended.

    Call it first thing in the child, with the id the parent gave (`os.getpid()` there): a parent that
    died before the call is then noticed too, where `os.getppid()` in the child would already name another.
    None: a Windows parent this process may not open, so nothing is watched.
    """
    gone = _parent_gone_windows(parent_pid) if sys.platform == "win32" else _parent_gone_posix(parent_pid)
    if gone is None:
        return None

    def watch() -> None:
        while not gone(poll_s):
            pass
        log.warning("process %s has gone: its child %s stops", parent_pid, os.getpid())
        on_gone()

    thread = threading.Thread(target=watch, name=f"parent-watch-{parent_pid}", daemon=True)
    thread.start()
    return thread


def watch_parent_from_env(on_gone: Callable[[], None] = exit_now) -> threading.Thread | None:
    """`watch_parent` on the id in SYNAPSE_PARENT_PID, if set; removed from the environment for our own children."""
    value = os.environ.pop(PARENT_PID_ENV, "")
    if not value.isdigit():
        return None
    return watch_parent(int(value), on_gone)

"""The OpenMP wait policy: chosen when the user chose nothing, and read by the libgomp that llama.cpp loads."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from synapse.llm.openmp import SPIN_COUNT, configure_wait_policy, wait_settings

_VARS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")


def test_nothing_set_gets_a_short_spin_then_sleep() -> None:
    assert wait_settings({"PATH": "/bin"}) == {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": str(SPIN_COUNT)}


@pytest.mark.parametrize("chosen", [{"OMP_WAIT_POLICY": "ACTIVE"}, {"GOMP_SPINCOUNT": "0"}])
def test_a_users_choice_is_left_alone(chosen: dict[str, str]) -> None:
    environ = dict(chosen)
    configure_wait_policy(environ)
    assert environ == chosen


def test_an_empty_value_counts_as_unset() -> None:
    environ = {"OMP_WAIT_POLICY": ""}
    configure_wait_policy(environ)
    assert environ["OMP_WAIT_POLICY"] == "PASSIVE" and environ["GOMP_SPINCOUNT"] == str(SPIN_COUNT)


_PROBE = """
import synapse.llm.batch.native as native
native._lib()
maps = open("/proc/self/maps").read()
print("libgomp" if "libgomp" in maps else "no-libgomp")
"""


def _probe(extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in _VARS} | {"OMP_DISPLAY_ENV": "VERBOSE"} | extra
    return subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({}, ("OMP_WAIT_POLICY = 'PASSIVE'", f"GOMP_SPINCOUNT = '{SPIN_COUNT}'")),
        ({"OMP_WAIT_POLICY": "ACTIVE"}, ("OMP_WAIT_POLICY = 'ACTIVE'",)),
    ],
)
def test_libgomp_reads_the_policy_when_llama_cpp_loads(extra: dict[str, str], expected: tuple[str, ...]) -> None:
    pytest.importorskip("llama_cpp")
    done = _probe(extra)
    if done.stdout.strip() != "libgomp":
        pytest.skip("this llama.cpp build does not use GNU OpenMP (libgomp): GOMP_SPINCOUNT means nothing to it")
    for line in expected:
        assert line in done.stderr, done.stderr[-2000:]

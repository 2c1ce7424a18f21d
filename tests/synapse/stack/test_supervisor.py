"""The supervisor behind `synapse up`, with stand-in services: start, health, logs, stop on Ctrl-C or a death."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from synapse.stack import ServiceSpec, StackError, StackPorts, Supervisor, describe_models, stack_specs
from tests.terminal.fake_services import free_port

DUMMY = Path(__file__).with_name("dummy_service.py")
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="signals differ on Windows")


def dummy(name: str, *flags: str) -> ServiceSpec:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    return ServiceSpec(
        name=name, command=[sys.executable, str(DUMMY), str(port), name, *flags], health_url=f"{url}/health", url=url
    )


class Lines:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def __call__(self, name: str, line: str) -> None:
        with self.lock:
            self.lines.append((name, line))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_starts_all_waits_for_health_relays_logs_and_stops_all() -> None:
    sink = Lines()
    supervisor = Supervisor([dummy("cortex"), dummy("synapse"), dummy("terminal")], sink)
    supervisor.start(timeout_s=30)
    try:
        assert [r.spec.name for r in supervisor.running] == ["cortex", "synapse", "terminal"]
        assert all(r.process.poll() is None for r in supervisor.running)
        assert supervisor.running[0].health["embedder"] == "dummy-embedder"
        pids = [r.process.pid for r in supervisor.running]
    finally:
        supervisor.stop()
    assert not any(_alive(pid) for pid in pids)
    assert ("cortex", "cortex listening on " + supervisor.specs[0].url.rsplit(":", 1)[1]) in sink.lines
    # SIGINT first: each service shut down on its own.
    assert {name for name, line in sink.lines if line.endswith("stopped cleanly")} == {"cortex", "synapse", "terminal"}


def test_when_one_dies_the_others_are_stopped_and_the_error_names_it() -> None:
    sink = Lines()
    supervisor = Supervisor([dummy("cortex"), dummy("synapse", "--die-after", "1.5"), dummy("terminal")], sink)
    with pytest.raises(StackError) as info:
        supervisor.run(timeout_s=30)
    assert info.value.message.startswith("synapse stopped with exit code 3")
    assert "synapse crashing" in info.value.message
    assert all(r.process.poll() is not None for r in supervisor.running)


def test_never_healthy_times_out_and_stops_everything() -> None:
    supervisor = Supervisor([dummy("cortex"), dummy("synapse", "--never-healthy")], Lines())
    with pytest.raises(StackError, match=r"not healthy after 2 s: synapse"):
        supervisor.start(timeout_s=2)
    assert all(r.process.poll() is not None for r in supervisor.running)


def test_a_service_that_ignores_ctrl_c_is_killed_after_the_grace_period() -> None:
    supervisor = Supervisor([dummy("stubborn", "--ignore-sigint")], Lines(), stop_timeout_s=1.0)
    supervisor.start(timeout_s=30)
    supervisor.stop()
    assert supervisor.running[0].process.returncode not in (None, 0)


def _stack_in_a_process(tmp_path: Path, specs: list[ServiceSpec]) -> tuple[subprocess.Popen[str], list[int]]:
    """The supervisor running `specs` in a process of its own, and its services' pids once all are healthy."""
    (tmp_path / "specs.json").write_text(json.dumps([s.model_dump() for s in specs]), encoding="utf-8")
    script = tmp_path / "run_stack.py"
    script.write_text(
        textwrap.dedent(
            """
            import json, pathlib, sys, threading
            from synapse.stack import ServiceSpec, Supervisor
            raw = json.loads((pathlib.Path(__file__).parent / "specs.json").read_text())
            specs = [ServiceSpec.model_validate(s) for s in raw]
            # One relay thread per service writes here: whole lines under a lock, or they interleave.
            lock = threading.Lock()
            def say(text):
                with lock:
                    print(text, flush=True)
            def ready(sup):
                say("READY " + " ".join(str(r.process.pid) for r in sup.running))
            sys.exit(Supervisor(specs, lambda n, l: say(f"{n} | {l}")).run(30, on_ready=ready))
            """
        ),
        encoding="utf-8",
    )
    process = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert process.stdout is not None
    pids: list[int] = []
    deadline = time.monotonic() + 60
    for line in process.stdout:
        if line.startswith("READY"):
            pids = [int(p) for p in line.split()[1:]]
            break
        assert time.monotonic() < deadline
    assert len(pids) == len(specs) and all(_alive(p) for p in pids), process.stdout.read()
    return process, pids


def test_ctrl_c_stops_the_stack_and_exits_zero(tmp_path: Path) -> None:
    process, pids = _stack_in_a_process(tmp_path, [dummy("cortex"), dummy("terminal")])
    assert process.stdout is not None
    process.send_signal(signal.SIGINT)
    rest = process.stdout.read()
    assert process.wait(timeout=30) == 0, rest
    assert "cortex | cortex stopped cleanly" in rest and "terminal | terminal stopped cleanly" in rest, rest
    assert not any(_alive(p) for p in pids)


def test_a_killed_supervisor_takes_its_services_with_it(tmp_path: Path) -> None:
    """No Ctrl-C reaches services in their own process groups: each watches the supervisor named in its env."""
    process, pids = _stack_in_a_process(tmp_path, [dummy("cortex"), dummy("synapse"), dummy("terminal")])
    process.kill()
    process.wait(timeout=30)
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [p for p in pids if _alive(p)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, "services outlived their killed supervisor"


def test_stack_specs_wire_the_services_together(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORTEX_API_KEY", "ck")
    monkeypatch.setenv("SYNAPSE_API_KEYS", "sk1,sk2")
    cortex, synapse, terminal = stack_specs(StackPorts(host="0.0.0.0", cortex=9004, synapse=9000, terminal=9501))
    assert cortex.command[-5:] == ["serve", "--host", "0.0.0.0", "--port", "9004"] and "cortex" in cortex.command
    assert cortex.health_url == "http://127.0.0.1:9004/health"
    assert synapse.env == {"SYNAPSE_CORTEX_URL": "http://127.0.0.1:9004", "SYNAPSE_CORTEX_API_KEY": "ck"}
    assert terminal.command[-5:] == ["terminal", "--host", "0.0.0.0", "--port", "9501"]
    assert terminal.env["TERMINAL_SYNAPSE_URL"] == "http://127.0.0.1:9000"
    assert terminal.env["TERMINAL_DOCUMENTS_URL"] == "http://127.0.0.1:9004/documents"
    assert terminal.env["TERMINAL_DOCUMENTS_API_KEY"] == "ck" and terminal.env["TERMINAL_SYNAPSE_API_KEY"] == "sk1"


def test_describe_models_reads_the_health_reports() -> None:
    synapse = {
        "backends": [
            {"backend": "ollama", "status": "down", "models": []},
            {"backend": "llamacpp", "status": "ok", "models": ["smollm2-135m-demo"], "demo": True},
        ]
    }
    facts = describe_models(synapse, {"embedder": "use-multilingual", "dim": 512})
    assert facts == {"model": "smollm2-135m-demo via llamacpp (demo model)", "embedder": "use-multilingual (512-d)"}
    assert describe_models({}, {}) == {"model": "none", "embedder": "?"}

"""The three services of `synapse up` (CORTEX, SYNAPSE, Neuro-Terminal), wired to each other on one host."""

from __future__ import annotations

import sys
from typing import Any

from pydantic import BaseModel

from synapse.config import CortexSettings, SynapseSettings, TerminalSettings
from synapse.stack.supervisor import ServiceSpec


class StackPorts(BaseModel):
    """Where each service listens."""

    host: str = "127.0.0.1"
    cortex: int = 8004
    synapse: int = 8000
    terminal: int = 8501


def synapse_command(*args: str) -> list[str]:
    """The `synapse` command line run by this same Python (works without the console script on PATH).

    It stops by itself once the process named in SYNAPSE_PARENT_PID (the supervisor) has gone.
    """
    return [sys.executable, "-c", "from synapse.cli.service_entry import main; main()", *args]


def _client_host(host: str) -> str:
    # A service bound to every interface is reached through loopback.
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def stack_specs(ports: StackPorts) -> list[ServiceSpec]:
    """CORTEX first, then SYNAPSE pointed at it over HTTP, then the terminal pointed at both."""
    host = _client_host(ports.host)
    cortex_url = f"http://{host}:{ports.cortex}"
    synapse_url = f"http://{host}:{ports.synapse}"
    terminal_url = f"http://{host}:{ports.terminal}"
    cortex_key = CortexSettings().api_key.get_secret_value()
    synapse_keys = sorted(SynapseSettings().accepted_keys())
    synapse_env = {"SYNAPSE_CORTEX_URL": cortex_url}
    if cortex_key:
        synapse_env["SYNAPSE_CORTEX_API_KEY"] = cortex_key
    terminal_env = {"TERMINAL_SYNAPSE_URL": synapse_url, "TERMINAL_DOCUMENTS_URL": f"{cortex_url}/documents"}
    if cortex_key:
        terminal_env["TERMINAL_DOCUMENTS_API_KEY"] = cortex_key
    if synapse_keys:
        terminal_env["TERMINAL_SYNAPSE_API_KEY"] = synapse_keys[0]
    bind = ("--host", ports.host)
    return [
        ServiceSpec(
            name="cortex",
            command=synapse_command("cortex", "serve", *bind, "--port", str(ports.cortex)),
            health_url=f"{cortex_url}/health",
            url=cortex_url,
        ),
        ServiceSpec(
            name="synapse",
            command=synapse_command("serve", *bind, "--port", str(ports.synapse)),
            health_url=f"{synapse_url}/health",
            url=synapse_url,
            env=synapse_env,
        ),
        ServiceSpec(
            name="terminal",
            command=synapse_command("terminal", *bind, "--port", str(ports.terminal)),
            health_url=f"{terminal_url}/health",
            url=terminal_url,
            env=terminal_env,
        ),
    ]


def default_ports() -> StackPorts:
    """The ports from each service's settings (SYNAPSE_PORT, CORTEX_PORT, TERMINAL_PORT)."""
    return StackPorts(
        host=TerminalSettings().host,
        cortex=CortexSettings().port,
        synapse=SynapseSettings().port,
        terminal=TerminalSettings().port,
    )


def describe_models(synapse_health: dict[str, Any], cortex_health: dict[str, Any]) -> dict[str, str]:
    """Which generation model and which embedder the running stack uses, from the services' /health."""
    model = "none"
    for backend in synapse_health.get("backends", []):
        if backend.get("status") == "ok":
            names = ", ".join(backend.get("models", [])[:3]) or "?"
            demo = " (demo model)" if backend.get("demo") else ""
            model = f"{names} via {backend.get('backend', '?')}{demo}"
            break
    embedder = str(cortex_health.get("embedder") or synapse_health.get("cortex", {}).get("embedder") or "?")
    dim = cortex_health.get("dim")
    return {"model": model, "embedder": f"{embedder} ({dim}-d)" if dim else embedder}

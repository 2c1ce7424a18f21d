"""compose.yaml and the Dockerfile: services, ports, health checks, start order, volumes, environment."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = {"cortex": 8004, "synapse": 8000, "terminal": 8501}
SCALE_OUT = {"postgres", "neo4j"}  # opt-in: the postgres profile with compose.postgres.yaml


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    return data


def test_services_and_ports(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"ollama", "ollama-init", *APP_SERVICES, *SCALE_OUT}
    assert services["ollama"]["ports"] == ["11434:11434"] and services["ollama"]["image"].startswith("ollama/ollama")
    for name, port in APP_SERVICES.items():
        service = services[name]
        assert service["ports"] == [f"{port}:{port}"]
        assert service["command"][-4:] == ["--host", "0.0.0.0", "--port", str(port)]
        assert service["build"] == "." and service["env_file"] == [{"path": ".env", "required": False}]


def test_every_server_has_a_health_check_on_its_own_port(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["ollama"]["healthcheck"]["test"] == ["CMD", "ollama", "list"]
    for name, port in APP_SERVICES.items():
        check = services[name]["healthcheck"]
        assert f"http://127.0.0.1:{port}/health" in " ".join(check["test"])
        assert check["start_period"] and check["retries"] >= 3


def test_start_order_waits_for_health_and_the_init(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["ollama-init"]["depends_on"] == {"ollama": {"condition": "service_healthy"}}
    assert services["cortex"]["depends_on"] == {"ollama-init": {"condition": "service_completed_successfully"}}
    assert services["synapse"]["depends_on"]["cortex"] == {"condition": "service_healthy"}
    assert services["terminal"]["depends_on"] == {"synapse": {"condition": "service_healthy"}}
    # No cycles, and every dependency is a service.
    for service in services.values():
        assert set(service.get("depends_on", {})) <= set(services)


def test_services_reach_each_other_by_name(compose: dict[str, Any]) -> None:
    env = {name: compose["services"][name]["environment"] for name in APP_SERVICES}
    assert env["synapse"]["SYNAPSE_CORTEX_URL"] == "http://cortex:8004"
    assert env["synapse"]["SYNAPSE_BACKEND"] == "ollama" and env["synapse"]["OLLAMA_HOST"] == "http://ollama:11434"
    assert env["terminal"]["TERMINAL_SYNAPSE_URL"] == "http://synapse:8000"
    assert env["terminal"]["TERMINAL_DOCUMENTS_URL"] == "http://cortex:8004/documents"
    # A multilingual embedder (the user writes Russian), the same for SYNAPSE's embedding routes.
    assert env["cortex"]["CORTEX_EMBEDDER"] == env["synapse"]["CORTEX_EMBEDDER"] == "${CORTEX_EMBEDDER:-ollama:bge-m3}"


def test_named_volumes_are_declared_and_used(compose: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    used = {
        volume.split(":")[0]
        for service in compose["services"].values()
        for volume in service.get("volumes", [])
        if not volume.startswith((".", "/", "$"))
    }
    assert used == declared == {"ollama", "cortex-data", "synapse-data", "terminal-data", "postgres-data", "neo4j-data"}


def test_init_pulls_the_embedder_and_creates_models_from_modelfiles(compose: dict[str, Any]) -> None:
    init = compose["services"]["ollama-init"]
    script = "\n".join(init["command"])
    assert "./modelfiles:/modelfiles:ro" in init["volumes"]
    assert init["environment"]["CORTEX_EMBEDDER"] == compose["services"]["cortex"]["environment"]["CORTEX_EMBEDDER"]
    assert 'ollama:*) ollama pull "$${CORTEX_EMBEDDER#ollama:}"' in script and 'ollama create "$$name"' in script
    assert 'ollama pull "$$EMBED_MODEL"' in script  # an extra model to serve, when set
    assert init["restart"] == "no"
    # The Modelfiles the export writes name their GGUF relative to themselves, which the script resolves.
    for modelfile in (ROOT / "modelfiles").glob("*.Modelfile"):
        assert re.search(r"^FROM \./\S+\.gguf$", modelfile.read_text(encoding="utf-8"), re.MULTILINE)


def test_scale_out_stores_are_opt_in_with_volumes_and_health_checks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    postgres, neo4j = services["postgres"], services["neo4j"]
    assert postgres["image"].startswith("pgvector/pgvector:") and neo4j["image"].startswith("neo4j:5")
    for service in (postgres, neo4j):
        assert service["profiles"] == ["postgres"]  # not started by a plain `docker compose up`
        assert service["healthcheck"]["retries"] >= 3 and service["volumes"]
        assert all(port.startswith("127.0.0.1:") for port in service["ports"])  # not open to the network
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert postgres["volumes"] == ["postgres-data:/var/lib/postgresql/data"]
    assert "cypher-shell" in " ".join(neo4j["healthcheck"]["test"]) and neo4j["volumes"] == ["neo4j-data:/data"]
    # The plain stack keeps CORTEX on its file storages.
    assert "CORTEX_STORAGE" not in services["cortex"]["environment"]
    assert not set(services["cortex"]["depends_on"]) & SCALE_OUT


def test_postgres_override_points_cortex_at_postgres_and_neo4j(compose: dict[str, Any]) -> None:
    override = yaml.safe_load((ROOT / "compose.postgres.yaml").read_text(encoding="utf-8"))
    assert set(override["services"]) == {"cortex"}
    cortex = override["services"]["cortex"]
    env = cortex["environment"]
    postgres_env = compose["services"]["postgres"]["environment"]
    assert env["CORTEX_STORAGE"] == "postgres"
    url = env["CORTEX_POSTGRES_URL"]
    assert url.startswith(f"postgresql://{postgres_env['POSTGRES_USER']}:") and url.endswith(
        f"@postgres:5432/{postgres_env['POSTGRES_DB']}"
    )
    assert env["CORTEX_GRAPH_URL"].startswith("neo4j://neo4j:") and env["CORTEX_GRAPH_URL"].endswith("@neo4j:7687")
    assert cortex["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "neo4j": {"condition": "service_healthy"},
    }
    # The same password on both sides (compose substitutes the same variable).
    assert "${POSTGRES_PASSWORD:-cortex}" in url and postgres_env["POSTGRES_PASSWORD"] == "${POSTGRES_PASSWORD:-cortex}"
    assert "${NEO4J_PASSWORD:-cortex-graph}" in env["CORTEX_GRAPH_URL"]
    assert compose["services"]["neo4j"]["environment"]["NEO4J_AUTH"] == "neo4j/${NEO4J_PASSWORD:-cortex-graph}"


def test_gpu_override_reserves_nvidia_devices_for_ollama() -> None:
    gpu = yaml.safe_load((ROOT / "compose.gpu.yaml").read_text(encoding="utf-8"))
    devices = gpu["services"]["ollama"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}]


def test_dockerfile_runs_the_synapse_command_as_a_user() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.1[0-9]-slim", text, re.MULTILINE)
    assert "EXPOSE 8000 8004 8501" in text and re.search(r"^USER app$", text, re.MULTILINE)
    assert 'CMD ["synapse", "up"' in text
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".venv", ".git", "*.gguf", ".env"} <= set(ignored)


def _docker_compose() -> list[str] | None:
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def test_docker_compose_accepts_the_files(tmp_path: Path) -> None:
    command = _docker_compose()
    if command is None:
        pytest.skip("the docker CLI here has no compose plugin")
    for files in (["compose.yaml"], ["compose.yaml", "compose.gpu.yaml"], ["compose.yaml", "compose.postgres.yaml"]):
        profile = ["--profile", "postgres"] if "compose.postgres.yaml" in files else []
        args = [*command, *profile, *(arg for f in files for arg in ("-f", f)), "config", "--quiet"]
        result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr

"""The `cortex` package imports its names on first use: its client side loads neither LightRAG nor the service."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

HEAVY = ("lightrag", "cortex.service", "cortex.rag", "cortex.api", "fastapi")


def _loaded_after(statement: str) -> dict[str, bool]:
    """Which of HEAVY a fresh interpreter has loaded after running `statement`."""
    code = f"import json, sys; {statement}; print(json.dumps({{m: m in sys.modules for m in {list(HEAVY)!r}}}))"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    loaded: dict[str, bool] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


@pytest.mark.parametrize(
    "statement",
    [
        "import cortex.client, cortex.models",
        "import cortex.errors",
        "import cortex",
        "from cortex import CortexClient, QueryRequest, CortexError",
    ],
)
def test_the_client_side_loads_no_lightrag(statement: str) -> None:
    loaded = _loaded_after(statement)
    assert not loaded["lightrag"], f"`{statement}` imported lightrag"
    assert not loaded["cortex.service"], f"`{statement}` imported cortex.service"


def test_the_service_loads_on_first_use() -> None:
    assert _loaded_after("from cortex import Cortex")["lightrag"]


def test_every_public_name_resolves() -> None:
    import cortex

    for name in cortex.__all__:
        value = getattr(cortex, name)
        assert value is not None, name
        assert getattr(value, "__name__", name) == name, f"cortex.{name} is {value!r}"
    assert set(cortex.__all__) <= set(dir(cortex))


def test_an_unknown_name_is_an_attribute_error() -> None:
    import cortex

    with pytest.raises(AttributeError, match="no_such_name"):
        cortex.no_such_name  # noqa: B018

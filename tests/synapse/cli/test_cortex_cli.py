"""`synapse cortex ...` through the real typer app, on a local store with the fake embedder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from synapse.cli import app
from synapse.embeddings import Embedder
from tests.conftest import HashingEmbedder
from tests.cortex.conftest import EN_BRACKET, RU_COOLING

runner = CliRunner()


class RenamedEmbedder(HashingEmbedder):
    name = "test-hashing-v2"


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Embedder]:
    """CORTEX_DATA_DIR in the test folder; the embedder named in CORTEX_EMBEDDER comes from this dict."""
    embedders: dict[str, Embedder] = {"test-hashing": HashingEmbedder(), "test-hashing-v2": RenamedEmbedder()}
    monkeypatch.setenv("CORTEX_DATA_DIR", str(tmp_path / "cortex"))
    monkeypatch.setenv("CORTEX_EMBEDDER", "test-hashing")
    monkeypatch.setattr("cortex.service.resolve_embedder", lambda name: embedders[name])
    return embedders


def test_add_docs_query_delete(store: dict[str, Embedder], tmp_path: Path) -> None:
    (tmp_path / "bracket.md").write_text(EN_BRACKET, encoding="utf-8")
    (tmp_path / "chat.txt").write_text(RU_COOLING, encoding="utf-8")
    res = runner.invoke(app, ["cortex", "add", str(tmp_path / "bracket.md"), "--tag", "casting", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)["documents"][0]
    assert doc["status"] == "processed" and doc["tags"] == ["casting"]
    res = runner.invoke(app, ["cortex", "add", str(tmp_path / "chat.txt"), "--kind", "dialogue"])
    assert res.exit_code == 0, res.output

    listed = json.loads(runner.invoke(app, ["cortex", "docs", "--json"]).stdout)["documents"]
    assert {d["name"] for d in listed} == {"bracket.md", "chat.txt"}
    processed = runner.invoke(app, ["cortex", "docs", "--status", "processed", "--status", "failed", "--json"])
    assert {d["name"] for d in json.loads(processed.stdout)["documents"]} == {"bracket.md", "chat.txt"}
    assert json.loads(runner.invoke(app, ["cortex", "docs", "--status", "pending", "--json"]).stdout)["documents"] == []
    res = runner.invoke(app, ["cortex", "docs", "--status", "done"])
    assert res.exit_code == 2 and "processing" in res.output

    res = runner.invoke(app, ["cortex", "query", "aluminium bracket lattice of ribs", "--mode", "naive", "--json"])
    assert res.exit_code == 0, res.output
    assert any(s["document"] == "bracket.md" for s in json.loads(res.stdout)["sources"])

    assert runner.invoke(app, ["cortex", "delete", doc["id"]]).exit_code == 0
    res = runner.invoke(app, ["cortex", "delete", doc["id"]])
    assert res.exit_code != 0 and "no document" in res.output


def test_bad_input_exits_with_a_message(store: dict[str, Embedder], tmp_path: Path) -> None:
    res = runner.invoke(app, ["cortex", "add", str(tmp_path / "missing.md")])
    assert res.exit_code == 2 and "is not a file" in res.output
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    res = runner.invoke(app, ["cortex", "add", str(tmp_path / "image.png")])
    assert res.exit_code == 2 and ".png" in res.output


def test_changed_embedder_is_refused_until_reindex(
    store: dict[str, Embedder], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "bracket.md").write_text(EN_BRACKET, encoding="utf-8")
    assert runner.invoke(app, ["cortex", "add", str(tmp_path / "bracket.md")]).exit_code == 0
    monkeypatch.setenv("CORTEX_EMBEDDER", "test-hashing-v2")
    res = runner.invoke(app, ["cortex", "docs"])
    assert res.exit_code == 2 and "synapse cortex reindex" in res.output

    res = runner.invoke(app, ["cortex", "reindex", "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["old_embedder"] == "test-hashing" and report["new_embedder"] == "test-hashing-v2"
    assert report["documents"] == 1
    res = runner.invoke(app, ["cortex", "query", "aluminium bracket lattice", "--mode", "naive", "--json"])
    assert res.exit_code == 0, res.output
    assert any(s["document"] == "bracket.md" for s in json.loads(res.stdout)["sources"])
    assert not (tmp_path / "cortex.reindex").exists() and not (tmp_path / "cortex.old").exists()


def test_the_cli_offers_every_document_state() -> None:
    from typing import get_args

    from cortex.models import DocumentState
    from synapse.cli.cortex_cmd import State

    assert tuple(s.value for s in State) == get_args(DocumentState)


def test_collections_from_the_command_line(store: dict[str, Embedder], tmp_path: Path) -> None:
    from cortex.models import COLLECTION_RULE

    (tmp_path / "bracket.md").write_text(EN_BRACKET, encoding="utf-8")
    (tmp_path / "chat.txt").write_text(RU_COOLING, encoding="utf-8")
    res = runner.invoke(app, ["cortex", "add", str(tmp_path / "bracket.md"), "--collection", "aero", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["documents"][0]["collection"] == "aero"
    assert runner.invoke(app, ["cortex", "add", str(tmp_path / "chat.txt")]).exit_code == 0
    listed = json.loads(runner.invoke(app, ["cortex", "docs", "--collection", "aero", "--json"]).stdout)
    assert [d["name"] for d in listed["documents"]] == ["bracket.md"]
    assert "aero" in runner.invoke(app, ["cortex", "docs"]).stdout  # the table shows the column

    question = ["cortex", "query", "aluminium bracket lattice of ribs", "--mode", "naive", "--json"]
    res = runner.invoke(app, [*question, "--collection", "aero"])
    assert res.exit_code == 0, res.output
    assert any(s["document"] == "bracket.md" for s in json.loads(res.stdout)["sources"])
    res = runner.invoke(app, [*question, "--collection", "sport", "--collection", "physics"])
    assert res.exit_code == 0 and not any(s["document"] for s in json.loads(res.stdout)["sources"])
    assert any(s["document"] == "bracket.md" for s in json.loads(runner.invoke(app, question).stdout)["sources"])

    for command in (["add", str(tmp_path / "chat.txt")], ["docs"], ["query", "aluminium bracket"]):
        res = runner.invoke(app, ["cortex", *command, "--collection", "Not OK"])
        assert res.exit_code == 2 and COLLECTION_RULE in " ".join(res.output.split()), (command, res.output)

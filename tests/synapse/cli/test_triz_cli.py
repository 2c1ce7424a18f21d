"""`synapse triz ...` and `synapse config` through the real typer app."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from synapse.cli import app

runner = CliRunner()


def test_matrix_json() -> None:
    res = runner.invoke(app, ["triz", "matrix", "14", "1", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert [p["id"] for p in data["principles"]] == [1, 8, 40, 15]
    assert data["improving"] == {"id": 14, "name": "Strength"}


def test_matrix_russian_names() -> None:
    res = runner.invoke(app, ["triz", "matrix", "14", "1", "--lang", "ru", "--json"])
    data = json.loads(res.stdout)
    assert data["principles"][0]["name"] == "Дробление"
    assert data["worsening"]["name"] == "Вес подвижного объекта"


def test_matrix_by_mixed_names_table() -> None:
    res = runner.invoke(app, ["triz", "matrix", "strength", "вес подвижного"])
    assert res.exit_code == 0, res.output
    assert "Антивес" in res.stdout


def test_unknown_parameter_exits_2_with_suggestions() -> None:
    res = runner.invoke(app, ["triz", "matrix", "strenght", "1"])
    assert res.exit_code == 2
    assert "unknown TRIZ parameter" in res.stderr
    assert "14 Strength" in res.stderr


def test_error_text_is_not_read_as_markup(monkeypatch: pytest.MonkeyPatch) -> None:
    import synapse.cli.export_cmd as export_cmd

    monkeypatch.setattr(export_cmd, "_NEEDS", ("surely_not_installed_pkg",))
    res = runner.invoke(app, ["export", "--list"])
    assert res.exit_code == 2
    assert "'.[export]'" in res.stderr


def test_bad_lang_exits_2() -> None:
    res = runner.invoke(app, ["triz", "matrix", "14", "1", "--lang", "de"])
    assert res.exit_code == 2


def test_principle_card() -> None:
    res = runner.invoke(app, ["triz", "principle", "15", "--lang", "ru", "--json"])
    assert res.exit_code == 0
    assert json.loads(res.stdout)["name"] == "Динамичность"
    assert runner.invoke(app, ["triz", "principle", "41"]).exit_code == 2


def test_analyze_json() -> None:
    res = runner.invoke(
        app, ["triz", "analyze", "Чем выше давление в котле, тем больше риск разрушения корпуса.", "--json"]
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["lang"] == "ru"
    assert data["candidates"][0]["improving"]["id"] == 11


def test_analyze_empty_problem_exits_2() -> None:
    res = runner.invoke(app, ["triz", "analyze", "  "])
    assert res.exit_code == 2
    assert "empty" in res.stderr


def test_analyze_without_contradiction_is_not_an_error() -> None:
    res = runner.invoke(app, ["triz", "analyze", "Hello there, nice weather today.", "--json"])
    assert res.exit_code == 0
    data = json.loads(res.stdout)
    assert data["candidates"] == [] and data["message"]


def test_parameters_list() -> None:
    res = runner.invoke(app, ["triz", "parameters", "--lang", "ru"])
    assert res.exit_code == 0
    assert "Производительность" in res.stdout


def test_config_masks_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNAPSE_API_KEY", "top-secret-value")
    monkeypatch.setenv("CORTEX_PORT", "9004")
    res = runner.invoke(app, ["config", "--json"])
    assert res.exit_code == 0, res.output
    assert "top-secret-value" not in res.stdout
    data = json.loads(res.stdout)
    assert data["synapse"]["api_key"] == "********"
    assert data["cortex"]["port"] == 9004


def test_version() -> None:
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and "synapse" in res.stdout

"""`import export` is light: the public names load their modules only when used."""

from __future__ import annotations

import subprocess
import sys

import pytest

import export


def test_import_export_does_not_load_torch() -> None:
    code = "import sys, export; export.ExportError; print([m for m in ('torch', 'gguf', 'peft') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_public_names_resolve_to_their_modules() -> None:
    from export.errors import ExportError, OllamaUnavailable
    from export.profiles import get_profile

    assert export.ExportError is ExportError and export.OllamaUnavailable is OllamaUnavailable
    assert export.get_profile is get_profile
    assert set(export.__all__) <= set(dir(export))
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        export.nothing  # noqa: B018

"""The one error contract: every product error has an HTTP status and a snake_case code."""

from __future__ import annotations

import importlib
import pkgutil
import re

import pytest

import cortex
import export
import synapse
import terminal
from synapse.errors import SynapseError, code_of, describe_invalid, invalid_field

SNAKE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
# Modules that need an optional runtime (torch, Chainlit's app) or start something when imported.
SKIP = ("terminal.app", "export.", "synapse.serving.gunicorn_app", "terminal.handlers")


def _subclasses(cls: type[SynapseError]) -> list[type[SynapseError]]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def _import_product() -> None:
    for package in (synapse, cortex, terminal, export):
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if not info.name.startswith(SKIP):
                importlib.import_module(info.name)


def test_every_error_has_a_snake_case_code_and_an_http_status() -> None:
    _import_product()
    errors = [e for e in _subclasses(SynapseError) if e.__module__.split(".")[0] in {"synapse", "cortex", "terminal"}]
    assert len(errors) > 20
    for error in errors:
        assert SNAKE.match(error.code), f"{error.__module__}.{error.__qualname__}: code {error.code!r}"
        assert 400 <= error.status < 600, f"{error.__qualname__}: status {error.status}"


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("DocumentNotFoundError", "document_not_found"),
        ("CortexError", "cortex"),
        ("ModelNotFoundError", "model_not_found"),
        ("LLMError", "llm"),
        ("OllamaHTTPError", "ollama_http"),
    ],
)
def test_codes_come_from_class_names(name: str, code: str) -> None:
    assert code_of(name) == code


def test_a_subclass_keeps_a_code_it_sets_and_inherits_the_status() -> None:
    class QuotaError(SynapseError):
        status = 429

    class DailyQuotaError(QuotaError):
        code = "quota_exhausted"

    assert (QuotaError.code, QuotaError.status) == ("quota", 429)
    assert (DailyQuotaError.code, DailyQuotaError.status) == ("quota_exhausted", 429)
    assert (SynapseError.code, SynapseError.status) == ("bad_request", 400)


def test_one_formatter_names_each_field_at_fault() -> None:
    errors = [
        {"loc": ("body", "messages", 0, "content"), "msg": "Field required"},
        {"loc": ("body",), "msg": "Input should be an object"},
    ]
    assert describe_invalid(errors) == "messages.0.content: Field required; body: Input should be an object"
    assert invalid_field(errors) == "messages.0.content"
    assert invalid_field([]) is None

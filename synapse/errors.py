"""User-facing errors: each names the problem and the fix."""

from __future__ import annotations


class SynapseError(Exception):
    """Base for errors that reach the user as a short message plus a hint, never a traceback."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class UnknownParameterError(SynapseError):
    """A TRIZ parameter given by number or name that does not exist."""

    def __init__(self, query: str, suggestions: list[str]) -> None:
        hint = (
            "did you mean: " + "; ".join(suggestions)
            if suggestions
            else "use a number 1-39 or a parameter name; `synapse triz parameters` lists them"
        )
        super().__init__(f"unknown TRIZ parameter: {query!r}", hint)
        self.query = query
        self.suggestions = suggestions


class UnknownPrincipleError(SynapseError):
    """A principle number outside 1..40."""

    def __init__(self, query: str) -> None:
        super().__init__(f"unknown TRIZ principle: {query!r}", "use a number from 1 to 40")


class InvalidProblemError(SynapseError):
    """A problem statement that cannot be analysed (empty, too long)."""

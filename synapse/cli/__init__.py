"""The `synapse` command line."""

from synapse.cli.app import app, main

__all__ = ["app", "main"]

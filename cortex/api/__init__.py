"""The CORTEX HTTP API."""

from cortex.api.app import create_app

__all__ = ["create_app"]

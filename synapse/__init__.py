"""SYNAPSE: the connector, the agent API and the `synapse` command line."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("triz-agent")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]

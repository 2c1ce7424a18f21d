"""SYNAPSE: the connector, the agent API and the `synapse` command line."""

__version__ = "0.1.0"

__all__ = ["__version__"]

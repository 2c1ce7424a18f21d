"""The TRIZ tools and CORTEX as Model Context Protocol tools: over stdio (`synapse mcp`) and at SYNAPSE's /mcp."""

from synapse.mcp.models import KnowledgeHits, TrizAnalysis
from synapse.mcp.server import SynapseMCP, build_server, error_text
from synapse.mcp.tools import ToolDeps, TrizTools

__all__ = ["KnowledgeHits", "SynapseMCP", "ToolDeps", "TrizAnalysis", "TrizTools", "build_server", "error_text"]

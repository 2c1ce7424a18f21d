"""CORTEX: the LightRAG retrieval service (built in a later issue)."""

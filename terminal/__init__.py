"""Neuro-Terminal: the Chainlit chat UI (built in a later issue)."""

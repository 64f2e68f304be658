"""Capability plugins for Ramparts' own tests (not shipped)."""

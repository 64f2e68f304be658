"""The Ramparts demo app."""

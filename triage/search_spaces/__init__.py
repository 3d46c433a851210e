"""The search spaces that ship with triage (package data, read with importlib.resources)."""

"""The search spaces that ship with triage, installed as ``triage.search_spaces`` (pyproject's
package-dir maps that package to this top-level folder) and read with importlib.resources."""

"""The codes table of the docs, generated from the checks' declarations.

``codes_table()`` returns the markdown table (code, family, severity, when it fires, source) of
every declared code, in the order the checks are defined (``base.declared()``). The docs hold it
between the marker lines ``START`` and ``END``; ``python3 -m triage.doctor.codes --write
docs/doctor.md`` rewrites what is between them, and a test fails when they differ.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from triage.doctor.base import declared

START, END = "<!-- codes:start -->", "<!-- codes:end -->"
HEADER = ("| code | family | severity | fires when | source |\n"
          "|---|---|---|---|---|\n")


def codes_table() -> str:
    """The markdown table of every declared code, one row each (no markers)."""
    rows = []
    for cls in declared():
        for code in cls.__dict__.get("codes", ()):
            families = " / ".join((code.family, *code.other_families))
            cells = [f"`{code.code}`", families, code.severity or "-", code.fires or code.title,
                     code.source]
            rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |\n")
    return HEADER + "".join(rows)


def between_markers(text: str) -> str | None:
    """The text between ``START`` and ``END`` (the lines after and before them), or None when
    the markers are missing."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        return None
    return text[text.index("\n", start) + 1: end]


def with_table(text: str) -> str:
    """``text`` with what is between the markers replaced by ``codes_table()``.

    Raises:
        ValueError: the markers are missing.
    """
    inside = between_markers(text)
    if inside is None:
        raise ValueError(f"no {START} ... {END} lines")
    start = text.index("\n", text.find(START)) + 1
    return text[:start] + codes_table() + text[start + len(inside):]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m triage.doctor.codes",
                                     description="print doctor's codes table, or write it into "
                                                 "a document between its markers")
    parser.add_argument("--write", metavar="PATH", help="rewrite the table in PATH in place")
    args = parser.parse_args(argv)
    if args.write is None:
        print(codes_table(), end="")
        return 0
    path = Path(args.write)
    path.write_text(with_table(path.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

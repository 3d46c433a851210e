"""The documentation is true: README's and docs/'s Python blocks run, the architecture map names
every module, and every relative link leads somewhere.

Each page's ```python blocks run in order, in one namespace of their own, as a reader would run
them; a page depends on nothing from another. ```bash blocks are not run.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
FENCE = re.compile(r"^```python\n(.*?)^```", flags=re.S | re.M)


def python_blocks(page: Path) -> list[str]:
    return FENCE.findall(page.read_text())


def name(page: Path) -> str:
    return str(page.relative_to(ROOT))


def _python_api(namespace: dict, tmp_path: Path, out: str) -> None:
    assert (tmp_path / "triage.yaml").is_file()
    assert namespace["summary"].counts and namespace["diagnosis"].errors
    assert len(namespace["results"]) == 2
    assert "train.diverges_early" in out


def _bring_your_model(namespace: dict, tmp_path: Path, out: str) -> None:
    assert namespace["config"].optimizer.name == "task"
    assert out.count("True") >= 3  # every form's probe trained


def _tables(namespace: dict, tmp_path: Path, out: str) -> None:
    assert namespace["task"].name


def _readme(namespace: dict, tmp_path: Path, out: str) -> None:
    assert namespace["task"].epochs == 10


# What a page's blocks must leave behind, beyond running (pages without an entry only run).
CHECKS = {"README.md": _readme, "docs/python-api.md": _python_api,
          "docs/bring-your-model.md": _bring_your_model, "docs/tables.md": _tables}
WITH_BLOCKS = [page for page in PAGES if python_blocks(page)]


def test_the_pages_with_python_blocks_are_found():
    assert {name(page) for page in WITH_BLOCKS} >= set(CHECKS)
    assert len(python_blocks(DOCS / "python-api.md")) >= 4


@pytest.mark.parametrize("page", WITH_BLOCKS, ids=name)
def test_python_blocks_run(page, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "docs"}
    for number, block in enumerate(python_blocks(page), 1):
        exec(compile(block, f"{name(page)} python block {number}", "exec"), namespace)
    check = CHECKS.get(name(page))
    if check:
        check(namespace, tmp_path, capsys.readouterr().out)


def architecture_map() -> str:
    text = (DOCS / "architecture.md").read_text()
    return re.search(r"^```\n(.*?)^```", text, flags=re.S | re.M).group(1)


def map_sections(text: str) -> dict[str, str]:
    """The map's text by package ("lr_finder/" ...; "" for top-level modules): a line that
    starts at column 0 with ``name/`` opens a package's section, which its indented lines
    continue; other column-0 lines (and theirs) are the top level's."""
    sections: dict[str, list[str]] = {"": []}
    current = ""
    for line in text.splitlines():
        if line and not line[0].isspace():
            first = line.split()[0]
            current = first if first.endswith("/") else ""
        sections.setdefault(current, []).append(line)
    return {key: "\n".join(lines) for key, lines in sections.items()}


def test_the_architecture_map_names_every_package_and_module():
    sections = map_sections(architecture_map())
    missing = []
    package = ROOT / "triage"
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package)
        if "__pycache__" in relative.parts:
            continue
        top = relative.parts[0]
        if len(relative.parts) == 1:  # a top-level module: named outside the packages' sections
            if path.name != "__init__.py" and not re.search(rf"\b{re.escape(path.name)}",
                                                            sections[""]):
                missing.append(str(relative))
            continue
        section = sections.get(f"{top}/")
        if section is None:
            missing.append(f"{top}/")
            continue
        # a nested package (lr_finder/strategies/) and every module are named in the section
        names = [f"{part}/" for part in relative.parts[1:-1]]
        if path.name != "__init__.py":
            names.append(path.name)
        missing += [f"{relative} ({n} in {top}/)" for n in names
                    if not re.search(rf"(?<![\w/]){re.escape(n)}", section)]
    for folder in sorted(p for p in package.iterdir() if p.is_dir() and p.name != "__pycache__"):
        if f"{folder.name}/" not in sections:
            missing.append(f"{folder.name}/")
    assert not sorted(set(missing)), f"docs/architecture.md's map does not name: {missing}"


def test_the_architecture_map_names_no_module_that_is_gone():
    modules = {path.name for path in (ROOT / "triage").rglob("*.py")}
    gone = sorted(set(re.findall(r"\b\w+\.py\b", architecture_map())) - modules)
    assert not gone, f"docs/architecture.md's map names modules that do not exist: {gone}"


LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.S | re.M)
    headings = re.findall(r"^#+ (.+)$", text, flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("page", PAGES, ids=name)
def test_relative_links_point_at_existing_files(page):
    text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.S | re.M)
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(target)
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target} (no such heading)")
    assert not broken, f"{name(page)}: broken links {broken}"


def test_doctor_codes_table_is_marked():
    text = (DOCS / "doctor.md").read_text()
    assert text.count("<!-- codes:start -->") == 1 and text.count("<!-- codes:end -->") == 1
    table = text.split("<!-- codes:start -->")[1].split("<!-- codes:end -->")[0]
    assert table.strip().startswith("| code |")

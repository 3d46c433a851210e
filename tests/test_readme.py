"""README's Python blocks are the API's documentation: run them, in order, as a reader would."""

import re
from pathlib import Path

README = Path(__file__).parent.parent / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", README.read_text(), flags=re.S | re.M)


def test_readme_python_blocks_run(tmp_path, monkeypatch, capsys):
    blocks = python_blocks()
    assert len(blocks) >= 4
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "readme"}
    for number, block in enumerate(blocks, 1):
        exec(compile(block, f"README.md python block {number}", "exec"), namespace)
    assert (tmp_path / "triage.yaml").is_file()
    assert namespace["summary"].counts and namespace["diagnosis"].errors
    assert len(namespace["results"]) == 2
    assert "train.diverges_early" in capsys.readouterr().out

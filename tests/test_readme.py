"""README.md stays true: catalog == registry, CI == the test command, examples run."""

import re
from pathlib import Path

from lmech.laws import catalog_markdown

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_catalog_matches_registry():
    block = re.search(r"<!-- catalog:start -->\n(.*?)\n<!-- catalog:end -->", README, re.S)
    assert block, "README lacks the catalog markers"
    assert block.group(1).strip() == catalog_markdown().strip()


def test_ci_runs_exactly_the_readme_test_command():
    commands = re.findall(r"```bash\n(.*?)\n```", README, re.S)
    assert len(commands) >= 2
    test_command = commands[1].strip()
    assert "pytest" in test_command
    ci_lines = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.startswith("#") and not line.startswith(("set ", "cd "))
    ]
    assert ci_lines == [test_command]
    assert "lmech check" in commands[0]


def test_python_examples_run(capsys):
    blocks = re.findall(r"```python\n(.*?)\n```", README, re.S)
    assert len(blocks) >= 2
    for code in blocks:
        exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "test_mse" in out

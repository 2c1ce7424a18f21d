"""The README's quick start and CI stay in step."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import REPO


def _quick_start_commands() -> list[str]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "the quick start has a bash block"
    return [line.split("#", 1)[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_quick_start_is_two_commands() -> None:
    commands = _quick_start_commands()
    assert len(commands) == 2
    assert commands[0].endswith(" run") and commands[1].endswith(" test")


def test_ci_runs_the_readme_test_command() -> None:
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert _quick_start_commands()[1] in ci.splitlines()


def test_bootstrap_without_a_verb_prints_usage_and_exits_2() -> None:
    res = subprocess.run([sys.executable, str(REPO / "bootstrap.py")], capture_output=True, text=True, check=False)
    assert res.returncode == 2
    assert "bootstrap.py run" in res.stdout and "bootstrap.py test" in res.stdout

"""The README stays short and true: every command it shows parses (make targets with their
variables dry-run, `slo` commands through the real argument parser), every page it links exists,
and your own service comes before the reference."""

import re
import shlex
import subprocess
from pathlib import Path

import pytest

from slo.cli import build_parser

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")


def shown_commands() -> list[list[str]]:
    """Each command line of the README's code blocks ('$ ' prompts and bare `make`/`slo`
    lines) and of its table's first column, as argv with comments dropped."""
    commands = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", README, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip().removeprefix("$ ")
            if line.startswith(("make ", "slo ")):
                commands.append(shlex.split(line, comments=True))
    for cell in re.findall(r"^\| `([^|]*)` [|/]", README, re.M):
        commands.append(shlex.split(cell.replace("\\|", "|").split("`")[0]))
    return commands


def test_the_readme_is_short_and_starts_with_the_users_service():
    lines = README.splitlines()
    assert len(lines) <= 200
    headings = [i for i, line in enumerate(lines) if line.startswith("## ")]
    assert lines[headings[1]] == "## Your own service in six commands"
    assert headings[1] < 45


def test_every_page_the_readme_links_exists():
    links = re.findall(r"\]\(([^)#]+)\)", README)
    assert links
    assert [link for link in links if not (REPO / link).is_file()] == []


def test_the_readme_shows_its_commands():
    kinds = {argv[0] for argv in shown_commands()}
    assert kinds == {"make", "slo"}


@pytest.mark.parametrize("argv", [a for a in shown_commands() if a[0] == "slo"],
                         ids=lambda a: " ".join(a))
def test_each_slo_command_the_readme_shows_parses(argv):
    args = build_parser().parse_args(argv[1:])
    assert callable(args.handler)


@pytest.mark.parametrize("argv", [a for a in shown_commands() if a[0] == "make"],
                         ids=lambda a: " ".join(a))
def test_each_make_command_the_readme_shows_is_a_target_that_dry_runs(argv):
    dry = subprocess.run(["make", "-n", *argv[1:]], cwd=REPO, capture_output=True, text=True,
                         timeout=60, env={"PATH": "/usr/bin:/bin", "HOME": str(REPO)})
    assert dry.returncode == 0, dry.stderr

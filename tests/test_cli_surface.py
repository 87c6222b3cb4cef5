"""The command line's surface: every registered command answers ``--help`` with a
description, the README shows every command, and every ``vigileos`` line of the README
names a real command with options it has."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from vigileos_analytics.cli import main

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _walk(command: click.Command, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    found = [(path, command)]
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            found += _walk(sub, (*path, name))
    return found


COMMANDS = [(path, command) for path, command in _walk(main) if path]


def test_the_walk_finds_every_command_module():
    top = {path[0] for path, _ in COMMANDS}
    assert {"simulate", "record", "import", "metrics", "availability", "stats", "summary", "check", "config",
            "report", "dashboard", "templates", "collect", "backup", "restore", "export", "cleanup",
            "retention", "optimize", "maintain", "alerts", "predict"} <= top
    assert len(COMMANDS) > len(top)  # the groups' subcommands are walked too


@pytest.mark.parametrize("path", [" ".join(p) for p, _ in COMMANDS])
def test_every_command_answers_help_with_a_description(path):
    result = CliRunner().invoke(main, [*path.split(), "--help"], prog_name="vigileos")
    assert result.exit_code == 0, result.output
    assert f"Usage: vigileos {path}" in " ".join(result.output.split())
    command = dict((" ".join(p), c) for p, c in COMMANDS)[path]
    assert (command.help or "").strip(), f"vigileos {path} has no description"
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            assert (param.help or "").strip() or param.is_flag and param.name == "help", \
                f"vigileos {path} {param.opts[0]} has no help text"


def _readme_command_lines() -> list[str]:
    lines, language = [], None
    for raw in README.splitlines():
        if raw.startswith("```"):
            language = None if language is not None else (raw[3:].strip() or "text")
            continue
        if language not in ("bash", "sh", "text"):
            continue
        for line in [raw]:
            line = line.split("  #")[0].strip()
            for part in re.split(r"\s*(?:&&|\|)\s*", line):
                part = re.sub(r"^(?:\S*/)?(?:\.venv/bin/)?(?=vigileos\b)", "", part)
                if part.startswith("vigileos ") or part == "vigileos":
                    lines.append(part)
    return lines


def _resolve(words: list[str]) -> tuple[click.Command, list[str], list[str]]:
    command: click.Command = main
    path: list[str] = []
    rest = list(words)
    while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
        # The group's own parsing, so that a default subcommand (``backup PATH``) counts.
        context = command.make_context(command.name, list(rest), resilient_parsing=True)
        words = [*context._protected_args, *context.args]
        if words[0] not in command.commands:
            raise AssertionError(f"vigileos {' '.join(path + [words[0]])}: no such command")
        command, rest = command.commands[words[0]], words[1:]
        path.append(command.name or "")
    return command, path, rest


README_LINES = _readme_command_lines()


def test_the_readme_shows_every_command():
    shown = {tuple(_resolve(shlex.split(line)[1:])[1]) for line in README_LINES}
    for path, command in COMMANDS:
        if isinstance(command, click.Group) and getattr(command, "invoke_without_command", False) is False:
            continue  # a group is shown through its subcommands
        assert path in shown or any(s[: len(path)] == path for s in shown), \
            f"the README has no example of vigileos {' '.join(path)}"


@pytest.mark.parametrize("line", README_LINES)
def test_every_readme_command_line_uses_real_commands_and_options(line):
    command, path, rest = _resolve(shlex.split(line)[1:])
    known = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    known |= {"--help", "-h"}
    used = [word.split("=")[0] for word in rest if word.startswith("-") and word != "-"]
    assert set(used) <= known, f"{line}: vigileos {' '.join(path)} has no option {sorted(set(used) - known)}"

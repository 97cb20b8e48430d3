"""Running `omnidesk` commands in-process from the CLI tests (the `env` fixture is in conftest.py)."""

from __future__ import annotations

from omnidesk import cli


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `omnidesk ARGV...`."""
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err

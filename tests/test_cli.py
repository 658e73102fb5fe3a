"""The `jkfp` command end to end on a fresh SQLite file: init, refusal before init, JSON output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path


def _jkfp(home: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}}
    env["JKFP_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "jkfp.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


def test_commands_refuse_before_init_then_work(tmp_path: Path) -> None:
    before = _jkfp(tmp_path, "reconcile", "--json")
    assert before.returncode == 2
    assert "jkfp init" in before.stderr
    assert before.stdout == ""

    first = _jkfp(tmp_path, "init")
    assert first.returncode == 0, first.stderr
    assert "新增病种 35 个" in first.stdout
    again = _jkfp(tmp_path, "init")
    assert again.returncode == 0
    assert "新增病种 0 个" in again.stdout  # running init again changes nothing

    after = _jkfp(tmp_path, "reconcile", "--json")
    assert after.returncode == 0, after.stderr
    assert json.loads(after.stdout) == {
        "persons": 0,
        "sources": {},
        "in_all": 0,
        "in_one": 0,
        "conflicts": 0,
    }
    assert (tmp_path / "var" / "jkfp.sqlite3").is_file()


def test_unknown_command_and_usage(tmp_path: Path) -> None:
    unknown = _jkfp(tmp_path, "frobnicate")
    assert unknown.returncode == 2
    assert "unknown command 'frobnicate'" in unknown.stderr
    usage = _jkfp(tmp_path, "--help")
    assert usage.returncode == 0
    assert "import-roster" in usage.stdout and "settle" in usage.stdout


def test_usage_names_the_command_as_typed(tmp_path: Path) -> None:
    helptext = _jkfp(tmp_path, "import-roster", "--help")
    assert helptext.returncode == 0
    assert helptext.stdout.startswith("usage: jkfp import-roster")


def test_version_and_no_django_noise_in_help(tmp_path: Path) -> None:
    import jkfp

    assert _jkfp(tmp_path, "--version").stdout.strip() == f"jkfp {jkfp.__version__}"
    usage = _jkfp(tmp_path, "--help").stdout
    for command in ("worker", "backup", "restore", "changepassword", "clearsessions", "check"):
        assert f"  {command} " in usage, command
    for command in ("import-roster", "check", "changepassword"):
        helptext = _jkfp(tmp_path, command, "--help").stdout
        for noise in (
            "--settings",
            "--pythonpath",
            "--traceback",
            "--no-color",
            "--skip-checks",
            "--verbosity",
        ):
            assert noise not in helptext, (command, noise)


def test_progress_bar_on_a_terminal_only(tmp_path: Path) -> None:
    """A long command draws a rich bar on a terminal (a pseudo-terminal here), never into a pipe or --json."""
    import pty

    archive = str(tmp_path / "b.tar")
    env = {**os.environ, "JKFP_HOME": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
           "COLUMNS": "100"}  # fmt: skip
    pid, fd = pty.fork()
    if pid == 0:  # the child: jkfp on the pseudo-terminal
        os.execve(sys.executable, [sys.executable, "-m", "jkfp.cli", "backup", "--out", archive], env)  # noqa: S606
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    shown = b"".join(chunks).decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, shown
    assert "━" in shown and "已备份到" in shown
    piped = subprocess.run([sys.executable, "-m", "jkfp.cli", "backup", "--out", archive], env=env,
                           capture_output=True, text=True)  # fmt: skip
    assert piped.returncode == 0 and "━" not in piped.stdout and "已备份到" in piped.stdout


def test_a_zip_bomb_on_the_command_line_fails_with_the_limit_named(tmp_path: Path) -> None:
    """A 2 GB-inflating workbook of a few MB: refused before reading, exit 2, nothing written (issue 17 §1)."""
    from jkfp.core.tests.bombs import xlsx_bomb

    assert _jkfp(tmp_path, "init").returncode == 0
    for name, declared in (("bomb.xlsx", None), ("forged.xlsx", 1)):
        bomb = xlsx_bomb(tmp_path / name, inflated_mib=2000, declared_mib=declared)
        assert bomb.stat().st_size < 5 * 1024 * 1024
        started = time.monotonic()
        done = _jkfp(tmp_path, "import-roster", str(bomb), "--source", "国家平台", "--json", timeout=600)
        print(f"\n{name}: refused in {time.monotonic() - started:.1f} s (process start included)")
        assert done.returncode == 2, done.stderr
        assert done.stdout == ""
        assert "工作簿解压后过大" in done.stderr and "上限 1,024 MB" in done.stderr
        assert "workbook too large when unpacked" in done.stderr and "limit 1,024 MB" in done.stderr
    after = _jkfp(tmp_path, "reconcile", "--json")
    assert json.loads(after.stdout)["persons"] == 0


def test_every_command_module_is_a_listed_command() -> None:
    """A management command the ``jkfp`` entry point does not list answers "unknown command"."""
    from jkfp.cli import COMMANDS

    commands = Path(__file__).resolve().parents[1] / "jkfp" / "cli" / "management" / "commands"
    modules = {p.stem.replace("_", "-") for p in commands.glob("*.py") if p.stem != "__init__"}
    assert modules - set(COMMANDS) == set()

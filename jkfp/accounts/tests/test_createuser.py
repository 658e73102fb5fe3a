"""`jkfp createuser`: users bound to a region, errors in Chinese and English."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.hashers import identify_hasher
from django.core.management import CommandError, call_command

from jkfp.accounts.models import User

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    """Run the command with ``--password P`` given, as a script would, on standard input."""
    arguments = list(args)
    password = ""
    if "--password" in arguments:
        at = arguments.index("--password")
        password = arguments[at + 1]
        del arguments[at : at + 2]
    out = StringIO()
    call_command("createuser", *arguments, "--password-stdin", stdin=StringIO(password + "\n"), stdout=out)
    return out.getvalue()


@pytest.mark.argon2
def test_creates_a_township_user_with_an_argon2_hash(county: Any) -> None:
    out = _run(
        "--username", "wsy1", "--password", "Zx9!long-pass", "--role", "township",
        "--region", county["t1"].code, "--full-name", "王医生",
    )  # fmt: skip
    user = User.objects.get(username="wsy1")
    assert (user.role, user.region_id, user.full_name) == ("township", county["t1"].code, "王医生")
    assert identify_hasher(user.password).algorithm == "argon2"
    assert user.check_password("Zx9!long-pass")
    assert "已创建用户 wsy1" in out and "created user wsy1" in out


def test_hospital_user_with_institution(county: Any) -> None:
    _run("--username", "win", "--password", "Zx9!long-pass", "--role", "hospital", "--region", "421321",
         "--institution", "H001")  # fmt: skip
    assert User.objects.get(username="win").institution_id == "H001"


@pytest.mark.parametrize(
    ("args", "zh", "en"),
    [
        (("--region", "999999"), "区划代码999999不存在", "unknown region"),
        (("--region", "421321001001"), "不能绑定到村级区划", "cannot be bound"),
        (("--region", "421321", "--institution", "NOPE"), "机构代码NOPE不存在", "unknown institution"),
    ],
)
def test_errors_name_the_field_in_chinese_and_english(
    county: Any, args: tuple[str, ...], zh: str, en: str
) -> None:
    with pytest.raises(CommandError) as info:
        _run("--username", "x1", "--password", "Zx9!long-pass", "--role", "county_admin", *args)
    message = str(info.value)
    assert zh in message and en in message
    assert not User.objects.filter(username="x1").exists()


def test_duplicate_user_name_is_refused(county: Any) -> None:
    _run("--username", "dup", "--password", "Zx9!long-pass", "--role", "inspector", "--region", "421321")
    with pytest.raises(CommandError, match="用户名“dup”已存在 / user name 'dup' already exists"):
        _run("--username", "dup", "--password", "Zx9!long-pass", "--role", "inspector", "--region", "421321")


def test_weak_password_is_refused_in_chinese_and_english(county: Any) -> None:
    with pytest.raises(CommandError) as info:
        _run("--username", "weak", "--password", "12345678", "--role", "inspector", "--region", "421321")
    message = str(info.value)
    assert "密码 password" in message
    assert "这个密码太常见了" in message and "This password is too common" in message
    assert not User.objects.filter(username="weak").exists()


def test_the_password_is_no_argument_and_needs_a_terminal_or_stdin(county: Any) -> None:
    with pytest.raises(CommandError, match="密码不能写在命令行上"):
        call_command("createuser", "--username", "p", "--password", "Zx9!long-pass", "--role", "inspector",
                     "--region", "421321")  # fmt: skip
    with pytest.raises(CommandError, match="--password-stdin"):
        call_command("createuser", "--username", "p", "--role", "inspector", "--region", "421321",
                     stdin=StringIO(""))  # fmt: skip
    assert not User.objects.filter(username="p").exists()


def test_unknown_role_is_refused_by_the_parser(county: Any) -> None:
    with pytest.raises(CommandError, match="invalid choice"):
        _run("--username", "r", "--password", "Zx9!long-pass", "--role", "boss", "--region", "421321")

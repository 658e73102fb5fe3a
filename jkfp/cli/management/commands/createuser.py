"""`jkfp createuser`: create a user bound to a region (accounts.services.user_create).

The password is never an argument (it would stay in the shell history and show in ``ps``): it is
asked for twice on a terminal, or read from the first line of standard input with
``--password-stdin`` (scripts: ``printf '%s\\n' "$PW" | jkfp createuser … --password-stdin``).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import translation

from jkfp.accounts.models import Role, User
from jkfp.accounts.services import user_create

FIELD_NAMES = {
    "username": "用户名 username",
    "password": "密码 password",
    "role": "角色 role",
    "region": "区划 region",
    "institution": "机构 institution",
    "full_name": "姓名 full name",
}
ERR_ON_COMMAND_LINE = (
    "密码不能写在命令行上（会留在命令历史和进程列表中）：请在提示时输入，或用 --password-stdin / a password on "
    "the command line stays in the shell history and shows in ps: type it when asked, or use --password-stdin"
)
ERR_NO_TERMINAL = (
    "没有终端可输入密码：请用 --password-stdin 从标准输入读取 / no terminal to type the password on: "
    "pass it on standard input with --password-stdin"
)


def password_problems(password: str, user: User) -> list[str]:
    """密码规则 Django's validators (length ≥ 8, not common, not all digits, not like the user name),
    each message in Chinese and in English; empty when the password is acceptable."""
    problems = []
    for language in ("zh-hans", "en"):
        with translation.override(language):
            try:
                validate_password(password, user)
            except ValidationError as exc:
                problems.append(exc.messages)
    if not problems:
        return []
    return [f"{zh} / {en}" for zh, en in zip(problems[0], problems[-1], strict=True)]


class Command(BaseCommand):
    help = "创建用户并绑定区划（密码在终端输入或从标准输入读取）/ create a user bound to a region"
    stealth_options = ("stdin",)  # tests and callers may pass the standard input, as createsuperuser's

    def add_arguments(self, parser: CommandParser) -> None:
        roles = ", ".join(f"{value}（{label}）" for value, label in Role.choices)
        parser.add_argument("--username", required=True, help="用户名 / user name")
        parser.add_argument("--role", required=True, choices=Role.values, help=f"角色 / role: {roles}")
        parser.add_argument("--region", required=True, help="区划代码（6位县或12位乡镇、村） / region code")
        parser.add_argument("--institution", default=None, help="机构代码（结算窗口） / institution code")
        parser.add_argument("--full-name", default="", help="姓名 / full name")
        parser.add_argument(
            "--password-stdin",
            action="store_true",
            help="从标准输入第一行读取密码（用于脚本）/ read the password from the first line of standard input",
        )
        # Refused with an explanation (an unknown option would be taken for --password-stdin's prefix).
        parser.add_argument("--password", default=None, help=argparse.SUPPRESS)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["password"] is not None:
            raise CommandError(ERR_ON_COMMAND_LINE)
        username = options["username"].strip()
        if User.objects.filter(username=username).exists():
            raise CommandError(f"用户名“{username}”已存在 / user name '{username}' already exists")
        password = self._password(options)
        problems = password_problems(password, User(username=username))
        if problems:
            raise CommandError("\n".join(f"{FIELD_NAMES['password']}: {p}" for p in problems))
        try:
            user = user_create(
                username=username,
                password=password,
                role=options["role"],
                region_code=options["region"].strip(),
                full_name=options["full_name"],
                institution_code=options["institution"],
            )
        except ValidationError as exc:
            raise CommandError(_describe(exc)) from exc
        self.stdout.write(
            f"已创建用户 {user.username}（{user.get_role_display()}，{user.region}） / "
            f"created user {user.username} ({user.role}, region {user.region_id})"
        )

    def _password(self, options: dict[str, Any]) -> str:
        stdin = options.get("stdin") or sys.stdin
        if options["password_stdin"]:
            password = stdin.readline().rstrip("\r\n")
            if not password:
                raise CommandError("标准输入中没有密码 / no password on standard input")
            return password
        if not stdin.isatty():
            raise CommandError(ERR_NO_TERMINAL)
        first = getpass.getpass("密码 Password: ")
        if getpass.getpass("再输入一次 Password (again): ") != first:
            raise CommandError("两次输入的密码不一致 / the two passwords differ")
        return first


def _describe(exc: ValidationError) -> str:
    """错误说明 One line per field, naming the field in Chinese and English."""
    if not hasattr(exc, "error_dict"):
        return "；".join(exc.messages)
    lines: list[str] = []
    for field, errors in exc.message_dict.items():
        label = FIELD_NAMES.get(field, field)
        lines.extend(f"{label}: {message}" for message in errors)
    return "\n".join(lines)

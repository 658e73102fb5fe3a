"""`jkfp createuser`: create a user bound to a region (accounts.services.user_create)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

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


class Command(BaseCommand):
    help = "创建用户并绑定区划 / create a user bound to a region"

    def add_arguments(self, parser: CommandParser) -> None:
        roles = ", ".join(f"{value}（{label}）" for value, label in Role.choices)
        parser.add_argument("--username", required=True, help="用户名 / user name")
        parser.add_argument("--password", required=True, help="密码（至少8位） / password (8+ characters)")
        parser.add_argument("--role", required=True, choices=Role.values, help=f"角色 / role: {roles}")
        parser.add_argument("--region", required=True, help="区划代码（6位县或12位乡镇、村） / region code")
        parser.add_argument("--institution", default=None, help="机构代码（结算窗口） / institution code")
        parser.add_argument("--full-name", default="", help="姓名 / full name")

    def handle(self, *args: Any, **options: Any) -> None:
        username = options["username"].strip()
        if User.objects.filter(username=username).exists():
            raise CommandError(f"用户名“{username}”已存在 / user name '{username}' already exists")
        try:
            # The settings' validators (length ≥ 8, not common, not all digits) apply to every account.
            validate_password(options["password"], User(username=username))
        except ValidationError as exc:
            raise CommandError(
                "\n".join(f"{FIELD_NAMES['password']}: {m}" for m in exc.messages)
                + "\n（至少8位，不能是常见密码或纯数字 / at least 8 characters, not common, not all digits）"
            ) from exc
        try:
            user = user_create(
                username=username,
                password=options["password"],
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


def _describe(exc: ValidationError) -> str:
    """错误说明 One line per field, naming the field in Chinese and English."""
    if not hasattr(exc, "error_dict"):
        return "；".join(exc.messages)
    lines: list[str] = []
    for field, errors in exc.message_dict.items():
        label = FIELD_NAMES.get(field, field)
        lines.extend(f"{label}: {message}" for message in errors)
    return "\n".join(lines)

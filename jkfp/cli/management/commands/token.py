"""`jkfp token create --institution CODE`: 创建医院接口令牌 print a new API token for an institution.

The token is printed once; only its digest is stored (``accounts.services.institution_token_create``),
and the creation is audited.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from jkfp.accounts.services import institution_token_create


class Command(BaseCommand):
    help = "医院接口令牌 / hospital API tokens: jkfp token create --institution CODE"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", metavar="create", required=True)
        create = sub.add_parser(
            "create",
            help="创建令牌并打印（只显示一次） / create a token and print it (shown once)",
            description="创建医院接口令牌 / create a hospital API token",
        )
        create.add_argument("--institution", required=True, help="机构代码 / institution code")
        create.add_argument("--label", default="", help="用途说明 / what the token is for")

    def handle(self, *args: Any, **options: Any) -> None:
        code = options["institution"].strip()
        try:
            row, token = institution_token_create(institution_code=code, label=options["label"].strip())
        except ValidationError as exc:
            raise CommandError("；".join(exc.messages)) from exc
        self.stderr.write(
            f"已为{row.institution.name}（{row.institution.code}）创建接口令牌，请妥善保存，之后无法再次查看 / "
            f"created an API token for {row.institution.code}; store it now, it cannot be shown again"
        )
        self.stdout.write(token)

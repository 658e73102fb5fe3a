"""`jkfp token create|list|revoke`: 医院接口令牌 hospital API tokens.

``create --institution CODE`` prints a new token once; only its digest is stored
(``accounts.services.institution_token_create``). ``list [--institution CODE]`` shows the issued tokens
(number, prefix, label, dates; never the token). ``revoke ID`` revokes one: from then on the API answers
401 to it. Creation and revocation are audited.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from jkfp.accounts.models import InstitutionToken
from jkfp.accounts.services import institution_token_create, institution_token_revoke


def _when(value: Any) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else "-"


class Command(BaseCommand):
    help = "医院接口令牌 / hospital API tokens: jkfp token create --institution CODE | list | revoke ID"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", metavar="create|list|revoke", required=True)
        create = sub.add_parser(
            "create",
            help="创建令牌并打印（只显示一次） / create a token and print it (shown once)",
            description="创建医院接口令牌 / create a hospital API token",
        )
        create.add_argument("--institution", required=True, help="机构代码 / institution code")
        create.add_argument("--label", default="", help="用途说明 / what the token is for")
        listing = sub.add_parser(
            "list",
            help="列出已发放的令牌（不显示令牌本身） / list issued tokens (never the token itself)",
            description="列出接口令牌 / list API tokens",
        )
        listing.add_argument("--institution", default="", help="只列出该机构 / only this institution")
        revoke = sub.add_parser(
            "revoke",
            help="吊销令牌（之后接口返回401） / revoke a token (the API then answers 401)",
            description="吊销接口令牌 / revoke an API token",
        )
        revoke.add_argument(
            "token_id", type=int, help="令牌编号（见 token list） / token number (see token list)"
        )
        revoke.add_argument("--reason", default="", help="吊销原因 / why")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "list":
            self._list(options["institution"].strip())
        elif action == "revoke":
            self._revoke(options["token_id"], options["reason"].strip())
        else:
            self._create(options["institution"].strip(), options["label"].strip())

    def _create(self, code: str, label: str) -> None:
        try:
            row, token = institution_token_create(institution_code=code, label=label)
        except ValidationError as exc:
            raise CommandError("；".join(exc.messages)) from exc
        self.stderr.write(
            f"已为{row.institution.name}（{row.institution.code}）创建接口令牌（编号{row.pk}），请妥善保存，"
            f"之后无法再次查看 / created API token #{row.pk} for {row.institution.code}; store it now, "
            "it cannot be shown again"
        )
        self.stdout.write(token)

    def _list(self, code: str) -> None:
        rows = InstitutionToken.objects.select_related("institution").order_by("institution_id", "id")
        if code:
            rows = rows.filter(institution_id=code)
        self.stdout.write("编号 id\t机构 institution\t前缀 prefix\t用途 label\t创建 created\t吊销 revoked")
        for row in rows:
            self.stdout.write(
                f"{row.pk}\t{row.institution_id} {row.institution.name}\t{row.prefix}…\t{row.label or '-'}\t"
                f"{_when(row.created_at)}\t{_when(row.revoked_at)}"
            )

    def _revoke(self, token_id: int, reason: str) -> None:
        try:
            row = institution_token_revoke(token_id=token_id, reason=reason)
        except ValidationError as exc:
            raise CommandError("；".join(exc.messages)) from exc
        self.stdout.write(
            f"已吊销{row.institution.name}（{row.institution.code}）的令牌 {row.prefix}…（编号{row.pk}） / "
            f"revoked token #{row.pk} of {row.institution.code}"
        )

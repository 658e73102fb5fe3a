"""`jkfp care-renew --user NAME --village CODE --year YEAR [--json]`: 整村续签 renew a village's contracts.

Runs as the named account (a township or county administrator whose region holds the village),
through the same service as the contracts page. Prints the number of contracts created.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError, CommandParser

from jkfp.accounts.models import User
from jkfp.care.services import contracts_renew_village
from jkfp.regions.models import Region, RegionLevel


class Command(BaseCommand):
    help = "整村续签下一年度家庭医生签约 / renew every contract of a village for a year"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", required=True, help="操作账号（乡镇或县）/ account to act as")
        parser.add_argument("--village", required=True, help="村代码（12位）/ village code")
        parser.add_argument("--year", type=int, required=True, help="续签年度 / year to renew for")
        parser.add_argument("--json", action="store_true", help="输出一个JSON对象 / print one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["user"], is_active=True).select_related("region").first()
        if user is None:
            raise CommandError(f"账号不存在：{options['user']} / no such account", returncode=2)
        village = Region.objects.filter(code=options["village"], level=RegionLevel.VILLAGE).first()
        if village is None:
            raise CommandError(f"村代码不存在：{options['village']} / no such village", returncode=2)
        try:
            created = contracts_renew_village(user=user, village=village, year=options["year"])
        except PermissionDenied as exc:
            raise CommandError(f"{exc} / not allowed for this account", returncode=2) from exc
        if options["json"]:
            self.stdout.write(
                json.dumps({"village": village.code, "year": options["year"], "created": created})
            )
        else:
            self.stdout.write(
                f"{village.name}续签{options['year']}年签约{created}份 / {created} contracts renewed"
            )

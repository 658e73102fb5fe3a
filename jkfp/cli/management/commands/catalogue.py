"""`jkfp catalogue list [--region CODE] [--on DATE] [--kind KIND] [--all] [--json]`: 病种目录.

Prints the disease catalogue in force for a region (``--region``: a province, city, county,
township or village code in any accepted form; absent: the whole deployment) on a day (``--on``,
default today): per disease the setting that decides there — the entry of the most specific region
containing it (its county's over its city's over its province's over the deployment's), or the
catalogue row itself (``registry.disease_catalogue``). Without ``--all`` only the diseases in the
catalogue that day. Errors name the field in Chinese and English; with ``--json`` they are also
printed as one JSON object.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from jkfp.regions.models import Region, stored_code
from jkfp.registry.disease_catalogue import WHOLE_DEPLOYMENT, Setting, catalogue_settings
from jkfp.registry.models import DiseaseKind


class CatalogueCommandError(Exception):
    """One refusal: (field, Chinese, English)."""

    def __init__(self, field: str, zh: str, en: str) -> None:
        super().__init__(zh)
        self.field, self.zh, self.en = field, zh, en


FIELDS = {"region": ("区划", "region"), "on": ("日期", "date"), "kind": ("类别", "kind")}


def _region(code: str) -> Region | None:
    if not code:
        return None
    stored = stored_code(code)
    region = None if stored is None else Region.objects.filter(code=stored).first()
    if region is None:
        raise CatalogueCommandError(
            "region",
            f"区划代码{code}不在行政区划中（请先导入行政区划）",
            f"region code {code} is not in the region tree; import the regions first",
        )
    return region


def _day(text: str) -> date:
    if not text:
        return timezone.localdate()
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise CatalogueCommandError(
            "on", f"日期“{text}”无法识别，应为 YYYY-MM-DD", f"date '{text}' is not YYYY-MM-DD"
        ) from exc


def _row(s: Setting, on: date) -> dict[str, Any]:
    return {
        "name": s.name,
        "kind": s.kind,
        "kind_label": str(DiseaseKind(s.kind).label),
        "in_catalogue": s.valid_on(on),
        "included": s.included,
        "valid_from": s.valid_from.isoformat() if s.valid_from else None,
        "valid_to": s.valid_to.isoformat() if s.valid_to else None,
        "visits_per_year": s.visits_per_year,
        "decided_by": None if s.scope is None else (s.region_code or ""),
        "decided_by_name": s.source,
    }


class Command(BaseCommand):
    help = "病种目录 / disease catalogue: jkfp catalogue list [--region CODE] [--on DATE] [--all] [--json]"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", metavar="list", required=True)
        listing = sub.add_parser(
            "list",
            help="列出某区划某日的病种目录 / list a region's catalogue on a day",
            description="病种目录（按区划） / the disease catalogue in force for a region",
        )
        listing.add_argument(
            "--region", default="", help="区划代码（缺省：全系统） / region code (default: whole deployment)"
        )
        listing.add_argument("--on", default="", help="日期 YYYY-MM-DD（缺省：今天） / day (default: today)")
        listing.add_argument(
            "--kind",
            default="",
            help="只列该类别："
            + "、".join(f"{v}={label}" for v, label in DiseaseKind.choices)
            + " / only this kind",
        )
        listing.add_argument(
            "--all", action="store_true", help="也列出目录外的病种 / also the diseases not in it"
        )
        listing.add_argument("--json", action="store_true", help="输出一个JSON对象 / print one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            self._list(options)
        except CatalogueCommandError as exc:
            if options["json"]:
                errors = [{"field": exc.field, "zh": exc.zh, "en": exc.en}]
                self.stdout.write(json.dumps({"ok": False, "errors": errors}, ensure_ascii=False))
            name_zh, name_en = FIELDS[exc.field]
            raise CommandError(f"{name_zh}：{exc.zh} / {name_en}: {exc.en}", returncode=2) from exc

    def _list(self, options: dict[str, Any]) -> None:
        region = _region(options["region"].strip())
        on = _day(options["on"].strip())
        kind = options["kind"].strip()
        if kind and kind not in DiseaseKind.values:
            labels = {str(label): value for value, label in DiseaseKind.choices}
            if kind not in labels:
                raise CatalogueCommandError(
                    "kind",
                    f"类别“{kind}”无效，应为："
                    + "、".join(f"{v}（{label}）" for v, label in DiseaseKind.choices),
                    f"kind '{kind}' is not one of " + ", ".join(DiseaseKind.values),
                )
            kind = labels[kind]
        settings = catalogue_settings(region.code if region else "", kinds=[kind] if kind else None)
        rows = sorted((_row(s, on) for s in settings.values()), key=lambda r: (r["kind"], r["name"]))
        shown = rows if options["all"] else [r for r in rows if r["in_catalogue"]]
        where = str(region) if region else WHOLE_DEPLOYMENT
        if options["json"]:
            payload = {
                "ok": True,
                "region": region.code if region else None,
                "region_name": region.name if region else WHOLE_DEPLOYMENT,
                "on": on.isoformat(),
                "diseases": shown,
            }
            self.stdout.write(json.dumps(payload, ensure_ascii=False))
            return
        self.stdout.write(
            f"{where} {on.isoformat()} 的病种目录 / catalogue of {region.code if region else 'the whole deployment'} on {on.isoformat()}"
        )
        self.stdout.write(
            "病种 disease\t类别 kind\t在目录 in\t启用 from\t停用 to\t每年随访 visits\t设置来源 decided by"
        )
        for r in shown:
            self.stdout.write(
                f"{r['name']}\t{r['kind_label']}\t{'是' if r['in_catalogue'] else '否'}\t{r['valid_from'] or '—'}\t"
                f"{r['valid_to'] or '—'}\t{r['visits_per_year'] or '—'}\t{r['decided_by_name']}"
            )
        inside = sum(1 for r in rows if r["in_catalogue"])
        self.stdout.write(f"目录内 {inside} 个病种 / {inside} diseases in the catalogue")

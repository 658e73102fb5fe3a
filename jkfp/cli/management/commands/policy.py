"""`jkfp policy install FILE [--region CODE] [--json]` | `jkfp policy list [--region CODE] [--json]`: 结算政策.

``install`` validates a policy file (TOML or JSON, ``docs/settlement.md §3``) with the engine and
stores it for a region (``--region``: a county, city or province code; absent: the whole
deployment) through ``settlement.services.policy_upload``: a new name is version 1; the same name
again is the next version, except that an unused highest version is replaced in place (a version a
settlement used never changes); the same text again changes nothing. The policy in force for a
claim is the one of the most specific region containing the person's county that is valid on the
discharge date (``settlement.compute.policy_in_force_of``).

``list`` prints the stored versions — with ``--region``, those that apply within that region (its
own, its city's, its province's and the whole deployment's). Errors name the field in Chinese and
English; with ``--json`` they are also printed as one JSON object.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Max
from django.utils import timezone

from jkfp import engine
from jkfp.settlement.models import Policy
from jkfp.settlement.selectors import policies_of, policy_is_used
from jkfp.settlement.services import WHOLE_DEPLOYMENT, policy_region, policy_upload

FIELDS = {
    "file": ("政策文件", "file"),
    "source_text": ("政策文件", "policy file"),
    "source_format": ("文件格式", "file format"),
    "region": ("区划", "region"),
}
# English beside the services' Chinese messages, by ValidationError code.
ENGLISH = {
    "region_unknown": "region code {code} is not in the region tree; import the regions first",
    "region_level": "a policy is set for a county or a higher region; {code} is a township or village",
    "other_region": "this policy name belongs to another region; a new version must be for the same region "
    "(or use a new name)",
    "format": "the policy file must be TOML or JSON",
}
FORMATS = {".toml": "toml", ".json": "json"}


class PolicyCommandError(Exception):
    """One refusal: (field, Chinese, English) per problem."""

    def __init__(self, problems: list[tuple[str, str, str]]) -> None:
        super().__init__(problems)
        self.problems = problems


def _problems(exc: ValidationError, **params: str) -> list[tuple[str, str, str]]:
    """(field, zh, en) of a service's ValidationError; the engine's own problems (its cause) keep
    their key path and both languages."""
    cause = exc.__cause__
    if isinstance(cause, engine.PolicyError):
        return [("source_text", f"{p.path}：{p.zh}" if p.path else p.zh, str(p)) for p in cause.problems]
    out: list[tuple[str, str, str]] = []
    for field, errors in exc.error_dict.items() if hasattr(exc, "error_dict") else [("", exc.error_list)]:
        for error in errors:
            zh = " ".join(error.messages)
            en = ENGLISH.get(error.code or "", "").format(**params) if error.code in ENGLISH else zh
            out.append((field, zh, en))
    return out


def _region_of(code: str, *, any_level: bool) -> Any:
    if not code:
        return None
    try:
        return policy_region(code, any_level=any_level)
    except ValidationError as exc:
        raise PolicyCommandError(_problems(exc, code=code)) from exc


def _row(policy: Policy) -> dict[str, Any]:
    region = policy.region
    return {
        "name": policy.name,
        "version": policy.version,
        "label": policy.label,
        "title": policy.title,
        "valid_from": policy.valid_from.isoformat(),
        "valid_to": policy.valid_to.isoformat(),
        "region": region.code if region else None,
        "region_name": region.name if region else WHOLE_DEPLOYMENT,
        "scope": policy.scope,
        "sha256": policy.sha256,
        "used": policy_is_used(policy=policy),
        "uploaded_at": timezone.localtime(policy.uploaded_at).isoformat(timespec="seconds"),
    }


class Command(BaseCommand):
    help = "结算政策 / settlement policies: jkfp policy install FILE [--region CODE] | list [--region CODE]"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", metavar="install|list", required=True)
        install = sub.add_parser(
            "install",
            help="校验并安装政策文件（同名即新版本） / validate and store a policy (same name: next version)",
            description="安装结算政策 / install a settlement policy",
        )
        install.add_argument("file", type=Path, help="政策文件 .toml 或 .json / policy file")
        install.add_argument(
            "--region",
            default="",
            help="适用区划代码（缺省：全系统） / region code (default: whole deployment)",
        )
        install.add_argument("--json", action="store_true", help="输出一个JSON对象 / print one JSON object")
        listing = sub.add_parser(
            "list",
            help="列出政策版本 / list the policy versions",
            description="列出结算政策 / list settlement policies",
        )
        listing.add_argument(
            "--region", default="", help="只列出适用于该区划的政策 / only those applying within this region"
        )
        listing.add_argument("--json", action="store_true", help="输出一个JSON对象 / print one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["action"] == "install":
                self._install(options["file"], options["region"].strip(), options["json"])
            else:
                self._list(options["region"].strip(), options["json"])
        except PolicyCommandError as exc:
            if options["json"]:
                errors = [{"field": f, "zh": zh, "en": en} for f, zh, en in exc.problems]
                self.stdout.write(json.dumps({"ok": False, "errors": errors}, ensure_ascii=False))
            lines = []
            for field, zh, en in exc.problems:
                name_zh, name_en = FIELDS.get(field, (field, field))
                lines.append(f"{name_zh}：{zh} / {name_en}: {en}")
            raise CommandError("\n".join(lines), returncode=2) from exc

    def _install(self, path: Path, code: str, as_json: bool) -> None:
        fmt = FORMATS.get(path.suffix.lower())
        if fmt is None:
            raise PolicyCommandError(
                [("file", f"{path} 应为 .toml 或 .json 文件", f"{path} must be .toml or .json")]
            )
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PolicyCommandError(
                [
                    (
                        "file",
                        f"无法读取 {path}（须为UTF-8文本）",
                        f"cannot read {path} (must be UTF-8 text): {exc}",
                    )
                ]
            ) from exc
        region = _region_of(code, any_level=False)
        started = timezone.now()
        newest = Policy.objects.aggregate(pk=Max("pk"))["pk"] or 0
        try:
            policy = policy_upload(text=text, fmt=fmt, region=region)
        except ValidationError as exc:
            raise PolicyCommandError(_problems(exc, code=code)) from exc
        if policy.pk > newest:
            outcome = "new"
        else:
            outcome = "replaced" if policy.uploaded_at >= started else "unchanged"
        row = _row(policy)
        if as_json:
            self.stdout.write(json.dumps({"ok": True, "outcome": outcome, "policy": row}, ensure_ascii=False))
            return
        zh = {"new": "已安装", "replaced": "已替换（未用过的版本）", "unchanged": "未变化（内容相同）"}[
            outcome
        ]
        en = {
            "new": "installed",
            "replaced": "replaced (an unused version)",
            "unchanged": "unchanged (same text)",
        }
        where = f"{row['region_name']}（{row['region']}）" if row["region"] else WHOLE_DEPLOYMENT
        self.stdout.write(
            f"{zh} {policy.label}：{policy.title}，适用 {where}，有效期 {row['valid_from']} 至 {row['valid_to']}\n"
            f"{en[outcome]} {policy.label} for {row['region'] or 'the whole deployment'}, "
            f"valid {row['valid_from']} to {row['valid_to']}"
        )

    def _list(self, code: str, as_json: bool) -> None:
        region = _region_of(code, any_level=True)
        rows = [_row(p) for p in policies_of(code=region.code if region else "")]
        if as_json:
            self.stdout.write(
                json.dumps(
                    {"ok": True, "region": region.code if region else None, "policies": rows},
                    ensure_ascii=False,
                )
            )
            return
        self.stdout.write("政策 policy\t适用区划 region\t有效期 valid\t已用 used\t标题 title")
        for r in rows:
            where = f"{r['region_name']}（{r['region']}）" if r["region"] else WHOLE_DEPLOYMENT
            self.stdout.write(
                f"{r['label']}\t{where}\t{r['valid_from']}~{r['valid_to']}\t{'是' if r['used'] else '否'}\t{r['title']}"
            )
        self.stdout.write(f"共 {len(rows)} 个版本 / {len(rows)} versions")

"""预警规则默认值 The shipped default rules and deadlines (domain.md §8), and how a rule's threshold is resolved.

The defaults are data: ``alert_rules_ensure_defaults`` (services) writes them as deployment-wide
``AlertRule`` rows (no region) of a year the first time the year is scanned. A province, city or
county overrides one, or switches it off (an inactive row), with a row of the same rule code (admin
site): the most specific region's row applies, whenever it was added.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from jkfp.monitoring.models import AlertRule, RuleKind, TagMatch, ThresholdBasis
from jkfp.registry.models import TagCode

# domain.md §8: "a person holding poor, monitored, tekun or dibao".
LOW_INCOME_TAGS: tuple[str, ...] = (TagCode.POOR, TagCode.MONITORED, TagCode.TEKUN, TagCode.DIBAO)
FEN = Decimal("0.01")


@dataclass(frozen=True)
class DefaultRule:
    code: str
    name: str
    kind: str
    tag_match: str
    tag_codes: tuple[str, ...]
    threshold_amount: Decimal | None


DEFAULT_RULES: tuple[DefaultRule, ...] = (
    DefaultRule(
        code="oop_low_income",
        name="脱贫人口等个人年度自付达5000元",
        kind=RuleKind.PERSON_OOP,
        tag_match=TagMatch.HOLDING,
        tag_codes=LOW_INCOME_TAGS,
        threshold_amount=Decimal("5000.00"),
    ),
    DefaultRule(
        code="oop_general",
        name="一般人员个人年度自付达20000元",
        kind=RuleKind.PERSON_OOP,
        tag_match=TagMatch.NOT_HOLDING,
        tag_codes=LOW_INCOME_TAGS,
        threshold_amount=Decimal("20000.00"),
    ),
    DefaultRule(
        code="major_disease",
        name="新增大病",
        kind=RuleKind.MAJOR_DISEASE,
        tag_match=TagMatch.ANY,
        tag_codes=(),
        threshold_amount=None,
    ),
)

# Deadlines in days (the MonitoringParameter field defaults, repeated for a county without a row).
DEFAULT_DEADLINES: dict[str, int] = {
    "assign_within_days": 3,
    "verify_within_days": 15,
    "decide_within_days": 7,
    "identify_within_days": 15,
    "assist_within_days": 30,
}


ERR_RULE_KIND = "规则类型无效，应为：" + "、".join(str(label) for label in RuleKind.labels)
ERR_RULE_TAGS = "人员类别无效：{codes}"
ERR_RULE_TAGS_REQUIRED = "按人员类别筛选时必须列出人员类别"
ERR_RULE_THRESHOLD = "请填写大于0的阈值金额（最多两位小数）"
ERR_RULE_SHARE = "收入比例应大于0且不超过10（0.5 即 50%）"


def rule_problem(
    *,
    kind: str,
    basis: str,
    tag_match: str,
    tag_codes: list[str],
    threshold_amount: Decimal | None,
    income_share_rate: Decimal | None,
) -> tuple[str, str] | None:
    """规则检查 ``(field, Chinese message)`` of the first thing wrong with a rule, or None.

    Shared by ``services.alert_rule_create`` and the admin form, so both refuse the same rules.
    """
    if kind not in RuleKind.values:
        return "kind", ERR_RULE_KIND
    unknown = [t for t in tag_codes if t not in TagCode.values]
    if unknown:
        return "tag_codes", ERR_RULE_TAGS.format(codes="、".join(unknown))
    if tag_match != TagMatch.ANY and not tag_codes:
        return "tag_codes", ERR_RULE_TAGS_REQUIRED
    if kind == RuleKind.MAJOR_DISEASE:
        return None
    if basis == ThresholdBasis.INCOME_SHARE:
        if income_share_rate is None or not Decimal("0") < income_share_rate <= Decimal("10"):
            return "income_share_rate", ERR_RULE_SHARE
        return None
    if (
        threshold_amount is None
        or threshold_amount <= 0
        or threshold_amount != threshold_amount.quantize(FEN)
    ):
        return "threshold_amount", ERR_RULE_THRESHOLD
    return None


def threshold_of(rule: AlertRule, *, rural_income_amount: Decimal | None) -> Decimal | None:
    """阈值 The amount a person's (or, per member, a household's) payments must reach, or None.

    None means the rule cannot be evaluated (an income-share rule without the income parameter) or
    has no amount (a major-disease rule). A share is rounded half-up to the fen.
    """
    if rule.kind == RuleKind.MAJOR_DISEASE:
        return None
    if rule.basis == ThresholdBasis.INCOME_SHARE:
        if rural_income_amount is None or rule.income_share_rate is None:
            return None
        return (rural_income_amount * rule.income_share_rate).quantize(FEN, rounding=ROUND_HALF_UP)
    return rule.threshold_amount

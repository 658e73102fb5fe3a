"""防返贫监测写操作 Monitoring services: rules, parameters, the scan's writes, case steps, attachments, measures.

Who may do what (domain.md §2, §8): the county administrator sets rules and parameters; the steps
of a case follow ``jkfp.monitoring.workflow.TRANSITIONS`` (roles per step); health measures are
recorded by the county and the township. Every function checks the role and that the case's person
lies in the user's region (``PermissionDenied``); views fetch objects through the scoped selectors
first, so a guessed URL is a 404 before that. Validation errors are ``ValidationError({field:
Chinese message})``; the messages are constants the tests import.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from jkfp.accounts.models import Role
from jkfp.accounts.scoping import role_require, scope_require, user_sees_code
from jkfp.care.models import Contract
from jkfp.core.attachments import (
    ATTACHMENT_MAX_BYTES as ATTACHMENT_MAX_BYTES,
)
from jkfp.core.attachments import (
    ERR_ATTACHMENT_EMPTY as ERR_ATTACHMENT_EMPTY,
)
from jkfp.core.attachments import (
    ERR_ATTACHMENT_SIZE as ERR_ATTACHMENT_SIZE,
)
from jkfp.core.attachments import (
    ERR_ATTACHMENT_TYPE as ERR_ATTACHMENT_TYPE,
)
from jkfp.core.attachments import (
    AttachmentError,
    UploadedFileLike,
    attachment_check,
    attachment_name,
    attachment_store,
)
from jkfp.core.signals import send_data_changed
from jkfp.monitoring import rules, scan, selectors, workflow
from jkfp.monitoring.models import (
    Alert,
    AlertRule,
    CaseStatus,
    CaseStep,
    HealthMeasure,
    MeasureKind,
    MonitoringCase,
    MonitoringParameter,
    RuleKind,
    StepAttachment,
    TagMatch,
    ThresholdBasis,
)
from jkfp.regions.models import Region, RegionLevel
from jkfp.settlement.models import Admission
from jkfp.treatment.models import MajorDiseaseCase

RULE_ROLES = frozenset({Role.COUNTY_ADMIN})
MEASURE_ROLES = frozenset({Role.COUNTY_ADMIN, Role.TOWNSHIP})
MEASURE_STATES = frozenset({CaseStatus.IDENTIFIED, CaseStatus.ASSISTED, CaseStatus.RISK_ELIMINATED})

ERR_ROLE_RULES = "只有县卫健局管理员可以设置预警规则和监测参数"
ERR_ROLE_MEASURE = "只有县卫健局管理员和乡镇卫生院可以登记帮扶措施"
ERR_ROLE_STEP = "您的角色不能办理“{action}”"
ERR_TRANSITION = "当前状态为“{current}”，不能办理为“{target}”；可办理：{allowed}"
ERR_CLOSED = "当前状态为“{current}”，监测已结束，不能再办理"
ERR_DONE_FUTURE = "办理日期不能晚于今天"
ERR_DONE_BEFORE = "办理日期不能早于上一步骤的日期（{previous}）"
ERR_NOTE_REQUIRED = "请填写说明（{what}）"
ERR_NOTE_LENGTH = "说明不能超过1000字"
ERR_ASSIGNEE = "请填写核实责任人"
ERR_ASSIGNEE_SCOPE = "核实责任人须是本辖区的用户"
ERR_EXTERNAL_REFERENCE = "请填写国家防返贫监测信息系统中的认定编号"
ERR_MEASURE_MISSING = "请先登记至少一项健康帮扶措施，再登记“已落实帮扶”"
ERR_MEASURE_STATE = "只有已认定、已落实帮扶或风险已消除的监测可以登记帮扶措施（当前：{current}）"
ERR_MEASURE_KIND = "帮扶措施类型无效，应为：" + "、".join(str(label) for label in MeasureKind.labels)
ERR_MEASURE_TREATMENT = "请选择此人的大病救治记录"
ERR_MEASURE_CONTRACT = "请选择此人的家庭医生签约"
ERR_MEASURE_ADMISSION = "请选择此人先诊疗后付费的入院登记"
ERR_MEASURE_AMOUNT = "金额应为不小于0的数字，最多两位小数"
ERR_MEASURE_FUTURE = "落实日期不能晚于今天"
ERR_ATTACHMENT_COUNT = "每个步骤最多上传{count}个附件"
ERR_RULE_COUNTY = "预警规则只能按县设置"
ERR_RULE_CODE = "规则代码只能包含小写字母、数字和下划线"
ERR_RULE_EXISTS = "该县该年度已有代码为“{code}”的规则"
ERR_RULE_KIND = rules.ERR_RULE_KIND
ERR_RULE_TAGS = rules.ERR_RULE_TAGS
ERR_RULE_TAGS_REQUIRED = rules.ERR_RULE_TAGS_REQUIRED
ERR_RULE_THRESHOLD = rules.ERR_RULE_THRESHOLD
ERR_RULE_SHARE = rules.ERR_RULE_SHARE
ERR_RULE_YEAR = "年度应在2016至2100之间"
ERR_INCOME = "上年农村居民人均可支配收入应大于0"

ATTACHMENT_MAX_COUNT = 5
ATTACHMENT_DIR = "monitoring/attachments"

# The note each step must carry (what it records); assignment names the assignee instead.
NOTE_REQUIRED: dict[str, str] = {
    CaseStatus.VERIFIED: "入户核实情况",
    CaseStatus.NOT_AT_RISK: "核实无风险的理由",
    CaseStatus.ALREADY_MONITORED: "已纳入监测的情况",
    CaseStatus.PROPOSED: "提请认定的理由",
    CaseStatus.RISK_ELIMINATED: "风险消除的情况",
}


# --- 规则与参数 ----------------------------------------------------------------------------------


def alert_rules_ensure_defaults(*, year: int) -> int:
    """写入默认规则 Write the default rules of domain.md §8 for ``year`` as deployment-wide rows (no
    region) when the year has none; returns how many. Deployment-wide, they never shadow a rule of a
    province, city or county: per rule code the most specific region's row applies
    (``selectors.alert_rules_in_force``); a region switches a default off with an inactive row of
    the same code."""
    if AlertRule.objects.filter(county__isnull=True, year=year).exists():
        return 0
    created = AlertRule.objects.bulk_create(
        [
            AlertRule(
                county=None,
                year=year,
                code=default.code,
                name=default.name,
                kind=default.kind,
                tag_match=default.tag_match,
                tag_codes=",".join(default.tag_codes),
                basis=ThresholdBasis.AMOUNT,
                threshold_amount=default.threshold_amount,
                note="默认规则（domain.md §8）",
            )
            for default in rules.DEFAULT_RULES
        ],
        ignore_conflicts=True,
    )
    return len(created)


def _decimal(value: Any, field_name: str, message: str) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value).replace(",", "").strip())
    except InvalidOperation:
        raise ValidationError({field_name: message}) from None
    if not number.is_finite():
        raise ValidationError({field_name: message})
    return number


def alert_rule_create(
    *,
    user: Any,
    county: Region,
    year: int,
    code: str,
    name: str,
    kind: str,
    tag_match: str = TagMatch.ANY,
    tag_codes: Sequence[str] = (),
    basis: str = ThresholdBasis.AMOUNT,
    threshold_amount: Decimal | str | None = None,
    income_share_rate: Decimal | str | None = None,
    note: str = "",
) -> AlertRule:
    """新增预警规则 Add a rule of a county and year, e.g. 50 % of last year's rural income for ex-poor persons.

    The default rules of the year are written first (deployment-wide), as a scan would.
    """
    role_require(user, RULE_ROLES, ERR_ROLE_RULES)
    if county.level != RegionLevel.COUNTY:
        raise ValidationError({"county": ERR_RULE_COUNTY})
    scope_require(user, county.code)
    if not 2016 <= int(year) <= 2100:
        raise ValidationError({"year": ERR_RULE_YEAR})
    code = (code or "").strip()
    if not code or not all(c.isascii() and (c.islower() or c.isdigit() or c == "_") for c in code):
        raise ValidationError({"code": ERR_RULE_CODE})
    tags = [t.strip() for t in tag_codes if t.strip()]
    threshold = _decimal(threshold_amount, "threshold_amount", ERR_RULE_THRESHOLD)
    share = _decimal(income_share_rate, "income_share_rate", ERR_RULE_SHARE)
    problem = rules.rule_problem(
        kind=kind,
        basis=basis,
        tag_match=tag_match,
        tag_codes=tags,
        threshold_amount=threshold,
        income_share_rate=share,
    )
    if problem is not None:
        raise ValidationError({problem[0]: problem[1]})
    if kind == RuleKind.MAJOR_DISEASE:
        threshold = share = None
    elif basis == ThresholdBasis.INCOME_SHARE:
        threshold = None
    else:
        share = None
    with transaction.atomic():
        alert_rules_ensure_defaults(year=year)
        if AlertRule.objects.filter(county=county, year=year, code=code).exists():
            raise ValidationError({"code": ERR_RULE_EXISTS.format(code=code)})
        rule = AlertRule(
            county=county,
            year=year,
            code=code,
            name=(name or "").strip()[:100] or code,
            kind=kind,
            tag_match=tag_match,
            tag_codes=",".join(tags),
            basis=basis,
            threshold_amount=threshold,
            income_share_rate=share,
            note=(note or "").strip()[:300],
        )
        rule.full_clean()
        rule.save()
    return rule


def monitoring_parameter_set(
    *,
    user: Any,
    county: Region,
    year: int,
    rural_income_amount: Decimal | str | None = None,
    **deadlines: int,
) -> MonitoringParameter:
    """设置监测参数 Set last year's rural per-capita disposable income and the deadlines of a county and year."""
    role_require(user, RULE_ROLES, ERR_ROLE_RULES)
    if county.level != RegionLevel.COUNTY:
        raise ValidationError({"county": ERR_RULE_COUNTY})
    scope_require(user, county.code)
    income = _decimal(rural_income_amount, "rural_income_amount", ERR_INCOME)
    if income is not None and income <= 0:
        raise ValidationError({"rural_income_amount": ERR_INCOME})
    unknown = set(deadlines) - set(rules.DEFAULT_DEADLINES)
    if unknown:
        raise TypeError(f"unknown deadlines: {sorted(unknown)}")
    parameter, _ = MonitoringParameter.objects.get_or_create(county=county, year=year)
    parameter.rural_income_amount = income
    for name, days in deadlines.items():
        setattr(parameter, name, days)
    parameter.full_clean()
    parameter.save()
    return parameter


# --- 扫描 ---------------------------------------------------------------------------------------


@dataclass
class ScanResult:
    """扫描结果 What one scan did. ``evaluated`` counts persons (see ``jkfp.monitoring.scan``)."""

    as_of: date
    evaluated: int = 0
    alerts_created: int = 0
    alerts_existing: int = 0
    cases_created: int = 0
    skipped_rules: list[str] = field(default_factory=list)
    by_rule: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, int]:
        return {
            "evaluated": self.evaluated,
            "alerts_created": self.alerts_created,
            "alerts_existing": self.alerts_existing,
        }


def alert_scan(*, as_of: date, today: date | None = None, county_code: str | None = None) -> ScanResult:
    """预警扫描 Evaluate the rules of the as-of's year on the data up to ``as_of`` and raise the new alerts.

    The year's default rules are written (deployment-wide) when the year has none. Per county (every
    county region, or ``county_code``): every active rule in force is evaluated in SQL (``scan.rule_hits``); hits
    already alerted (same person, rule and year — or household, rule and year) are counted as
    existing, the rest are created with one case per person (joining the person's case of the year
    still before its home visit). New alerts are dated ``today`` (default: the local date), which is
    when the deadlines start. One transaction: a failed scan writes nothing.
    """
    today = today or timezone.localdate()
    year = as_of.year
    result = ScanResult(as_of=as_of)
    counties = Region.objects.filter(level=RegionLevel.COUNTY).order_by("code")
    if county_code:
        counties = counties.filter(code=county_code)
    with transaction.atomic():
        alert_rules_ensure_defaults(year=year)
        for county in counties:
            income = selectors.rural_income(county_code=county.code, year=year)
            deadlines = selectors.deadlines(county_code=county.code, year=year)
            result.evaluated += scan.evaluated_count(county_code=county.code, as_of=as_of)
            rule_rows = [
                r for r in selectors.alert_rules_in_force(county_code=county.code, year=year) if r.active
            ]
            hits: list[tuple[AlertRule, scan.Hit]] = []
            for rule in rule_rows:
                threshold = rules.threshold_of(rule, rural_income_amount=income)
                if rule.kind != RuleKind.MAJOR_DISEASE and threshold is None:
                    result.skipped_rules.append(f"{county.code}:{rule.code}")
                    continue
                for hit in scan.rule_hits(
                    rule=rule, county_code=county.code, as_of=as_of, threshold=threshold
                ):
                    hits.append((rule, hit))
            _raise_alerts(hits=hits, year=year, as_of=as_of, today=today, deadlines=deadlines, result=result)
        if result.alerts_created:
            send_data_changed(kind="alerts", years=[year])
    return result


def _raise_alerts(
    *,
    hits: list[tuple[AlertRule, scan.Hit]],
    year: int,
    as_of: date,
    today: date,
    deadlines: dict[str, int],
    result: ScanResult,
) -> None:
    """Create the alerts (and cases) of ``hits`` not yet alerted; count the others as existing."""
    if not hits:
        return
    rule_ids = {rule.pk for rule, _ in hits}
    existing_person = set(
        Alert.objects.filter(rule_id__in=rule_ids, year=year).values_list("person_id", "rule_id")
    )
    existing_household = set(
        Alert.objects.filter(rule_id__in=rule_ids, year=year, household__isnull=False).values_list(
            "household_id", "rule_id"
        )
    )
    new: list[tuple[AlertRule, scan.Hit]] = []
    for rule, hit in hits:
        if (hit.person_id, rule.pk) in existing_person or (
            hit.household_id is not None and (hit.household_id, rule.pk) in existing_household
        ):
            result.alerts_existing += 1
            continue
        new.append((rule, hit))
    if not new:
        return
    person_ids = {hit.person_id for _, hit in new}
    # A new alert joins the person's case of the year that still waits for its home visit.
    open_cases = {
        case.person_id: case
        for case in MonitoringCase.objects.filter(
            person_id__in=person_ids, year=year, status__in=workflow.BEFORE_VISIT
        ).order_by("person_id", "id")
    }
    households = dict(
        scan.person_households(person_ids=person_ids),
    )
    to_create = [
        MonitoringCase(
            person_id=person_id,
            household_id=households.get(person_id),
            year=year,
            status=CaseStatus.ALERTED,
            alerted_on=today,
            due_on=today + timedelta(days=deadlines["assign_within_days"]),
        )
        for person_id in sorted(person_ids - set(open_cases))
    ]
    if to_create:
        created = MonitoringCase.objects.bulk_create(to_create)
        if any(case.pk is None for case in created):  # backends that return no keys (none we support)
            created = list(
                MonitoringCase.objects.filter(
                    person_id__in=[c.person_id for c in to_create], year=year, status=CaseStatus.ALERTED
                )
            )
        CaseStep.objects.bulk_create(
            [
                CaseStep(
                    case=case,
                    from_status="",
                    to_status=CaseStatus.ALERTED,
                    done_on=today,
                    note="系统预警扫描",
                    username="system",
                )
                for case in created
            ]
        )
        for case in created:
            open_cases.setdefault(case.person_id, case)
        result.cases_created += len(created)
    alerts = [
        Alert(
            rule=rule,
            person_id=hit.person_id,
            household_id=hit.household_id if rule.kind == RuleKind.HOUSEHOLD_OOP else None,
            year=year,
            alerted_on=today,
            verify_due_on=today + timedelta(days=deadlines["verify_within_days"]),
            as_of=as_of,
            amount=hit.amount,
            threshold_amount=hit.threshold,
            major_disease_case_id=hit.major_disease_case_id,
            case=open_cases[hit.person_id],
        )
        for rule, hit in new
    ]
    Alert.objects.bulk_create(alerts)
    result.alerts_created += len(alerts)
    for rule, _ in new:
        result.by_rule[rule.code] = result.by_rule.get(rule.code, 0) + 1


# --- 监测流程 -----------------------------------------------------------------------------------


def _due_on(status: str, *, case: MonitoringCase, done_on: date, deadlines: dict[str, int]) -> date | None:
    """当前步骤期限 The deadline of the step that follows ``status`` (None when there is none)."""
    days = {
        CaseStatus.ALERTED: (case.alerted_on, "assign_within_days"),
        CaseStatus.ASSIGNED: (case.alerted_on, "verify_within_days"),
        CaseStatus.VERIFIED: (done_on, "decide_within_days"),
        CaseStatus.PROPOSED: (done_on, "identify_within_days"),
        CaseStatus.IDENTIFIED: (done_on, "assist_within_days"),
    }.get(status)  # type: ignore[call-overload]
    if days is None:
        return None
    start, name = days
    day: date = start + timedelta(days=int(deadlines[name]))
    return day


def _check_uploads(files: Sequence[UploadedFileLike]) -> list[tuple[UploadedFileLike, str, str]]:
    """(file, extension, content type) of each upload, or a ValidationError naming the bad file."""
    if len(files) > ATTACHMENT_MAX_COUNT:
        raise ValidationError({"attachments": ERR_ATTACHMENT_COUNT.format(count=ATTACHMENT_MAX_COUNT)})
    limit = int(getattr(settings, "MONITORING_ATTACHMENT_MAX_BYTES", ATTACHMENT_MAX_BYTES))
    checked = []
    for upload in files:
        try:
            ext, content_type = attachment_check(upload, max_bytes=limit)
        except AttachmentError as exc:
            raise ValidationError({"attachments": str(exc)}) from None
        checked.append((upload, ext, content_type))
    return checked


def _store(
    step: CaseStep, upload: UploadedFileLike, ext: str, content_type: str, written: list[Path]
) -> None:
    relative, size = attachment_store(upload, f"{ATTACHMENT_DIR}/{step.case_id}", ext, written)
    StepAttachment.objects.create(
        step=step,
        original_name=attachment_name(upload)[:255],
        stored_path=relative,
        content_type=content_type,
        size_bytes=size,
    )


def case_advance(
    *,
    user: Any,
    case: MonitoringCase,
    target: str,
    done_on: date,
    note: str = "",
    assignee_name: str = "",
    assignee: Any = None,
    external_reference: str = "",
    attachments: Sequence[UploadedFileLike] = (),
) -> CaseStep:
    """办理监测步骤 Move a case one step along the workflow, with who, when, a note and attachments.

    Refused (``ValidationError`` on ``status``) when ``target`` does not follow the case's current
    state; ``PermissionDenied`` when the user's role may not take that step or the person lies
    outside the user's region.
    """
    scope_require(user, case.person.village_id)
    note = (note or "").strip()
    if len(note) > 1000:
        raise ValidationError({"note": ERR_NOTE_LENGTH})
    if done_on > timezone.localdate():
        raise ValidationError({"done_on": ERR_DONE_FUTURE})
    checked = _check_uploads(attachments)
    written: list[Path] = []
    try:
        with transaction.atomic():
            # The row lock makes two simultaneous steps on one case impossible.
            locked = MonitoringCase.objects.select_for_update().select_related("person").get(pk=case.pk)
            transition = workflow.BY_PAIR.get((locked.status, target))
            if transition is None:
                current = workflow.label(locked.status)
                if locked.status in workflow.CLOSED:
                    raise ValidationError({"status": ERR_CLOSED.format(current=current)})
                target_label = workflow.label(target) if target in CaseStatus.values else str(target)
                allowed = "、".join(workflow.label(t.target) for t in workflow.next_steps(locked.status))
                raise ValidationError(
                    {"status": ERR_TRANSITION.format(current=current, target=target_label, allowed=allowed)}
                )
            role_require(user, transition.roles, ERR_ROLE_STEP.format(action=transition.action))
            previous = locked.steps.order_by("-done_on").values_list("done_on", flat=True).first()
            if previous is not None and done_on < previous:
                raise ValidationError({"done_on": ERR_DONE_BEFORE.format(previous=previous.isoformat())})
            if target in NOTE_REQUIRED and not note:
                raise ValidationError({"note": ERR_NOTE_REQUIRED.format(what=NOTE_REQUIRED[target])})
            update = ["status", "due_on", "updated_at"]
            if target == CaseStatus.ASSIGNED:
                assignee_name = (assignee_name or "").strip()[:50]
                if assignee is not None and not user_sees_code(assignee, locked.person.village_id):
                    raise ValidationError({"assignee": ERR_ASSIGNEE_SCOPE})
                if not assignee_name and assignee is not None:
                    assignee_name = str(assignee)[:50]
                if not assignee_name:
                    raise ValidationError({"assignee_name": ERR_ASSIGNEE})
                locked.assignee, locked.assignee_name = assignee, assignee_name
                update += ["assignee", "assignee_name"]
            elif target == CaseStatus.VERIFIED:
                locked.verified_on = done_on
                update.append("verified_on")
            elif target == CaseStatus.IDENTIFIED:
                external_reference = (external_reference or "").strip()[:100]
                if not external_reference:
                    raise ValidationError({"external_reference": ERR_EXTERNAL_REFERENCE})
                locked.external_reference = external_reference
                update.append("external_reference")
            elif target == CaseStatus.ASSISTED and not locked.measures.exists():
                raise ValidationError({"status": ERR_MEASURE_MISSING})
            if target == CaseStatus.ALREADY_MONITORED and external_reference.strip():
                locked.external_reference = external_reference.strip()[:100]
                update.append("external_reference")
            deadlines = selectors.deadlines(county_code=locked.person.village_id[:6], year=locked.year)
            locked.status = target
            locked.due_on = _due_on(target, case=locked, done_on=done_on, deadlines=deadlines)
            locked.save(update_fields=update)
            step = CaseStep.objects.create(
                case=locked,
                from_status=transition.source,
                to_status=target,
                done_on=done_on,
                note=note,
                user=user if getattr(user, "is_authenticated", False) else None,
                username=getattr(user, "username", "")[:150],
            )
            for upload, ext, content_type in checked:
                _store(step, upload, ext, content_type, written)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    case.refresh_from_db()
    return step


def health_measure_add(
    *,
    user: Any,
    case: MonitoringCase,
    kind: str,
    taken_on: date,
    reference: str = "",
    amount: Decimal | str | None = None,
    note: str = "",
    treatment_case: MajorDiseaseCase | None = None,
    contract: Contract | None = None,
    admission: Admission | None = None,
) -> HealthMeasure:
    """登记健康帮扶措施 Record a health measure of an identified case (contract, aid, treatment, deferred payment).

    A contract, treatment or deferred-payment measure links one of the person's own records (a
    deferred-payment admission must have the deposit waived under 先诊疗后付费); aid records its
    amount and the aid decision's number (``reference``) typed by hand.
    """
    role_require(user, MEASURE_ROLES, ERR_ROLE_MEASURE)
    scope_require(user, case.person.village_id)
    if case.status not in MEASURE_STATES:
        raise ValidationError({"kind": ERR_MEASURE_STATE.format(current=workflow.label(case.status))})
    if kind not in MeasureKind.values:
        raise ValidationError({"kind": ERR_MEASURE_KIND})
    if taken_on > timezone.localdate():
        raise ValidationError({"taken_on": ERR_MEASURE_FUTURE})
    reference = (reference or "").strip()[:100]
    money = _decimal(amount, "amount", ERR_MEASURE_AMOUNT)
    if money is not None and (money < 0 or money != money.quantize(rules.FEN)):
        raise ValidationError({"amount": ERR_MEASURE_AMOUNT})
    links: dict[str, Any] = {"treatment_case": None, "contract": None, "admission": None}
    if kind == MeasureKind.TREATMENT:
        if treatment_case is None or treatment_case.person_id != case.person_id:
            raise ValidationError({"treatment_case": ERR_MEASURE_TREATMENT})
        links["treatment_case"] = treatment_case
    elif kind == MeasureKind.CONTRACT:
        if contract is None or contract.person_id != case.person_id:
            raise ValidationError({"contract": ERR_MEASURE_CONTRACT})
        links["contract"] = contract
    elif kind == MeasureKind.DEFERRED_PAYMENT:
        if admission is None or admission.person_id != case.person_id or not admission.deferred_payment:
            raise ValidationError({"admission": ERR_MEASURE_ADMISSION})
        links["admission"] = admission
    measure = HealthMeasure(
        case=case,
        kind=kind,
        reference=reference,
        amount=money,
        taken_on=taken_on,
        note=(note or "").strip()[:500],
        user=user if getattr(user, "is_authenticated", False) else None,
        **links,
    )
    measure.full_clean()
    measure.save()
    return measure


def alert_scan_after_settlement(*, years: Sequence[int], today: date | None = None) -> list[ScanResult]:
    """结算后扫描 Scan each year a settlement batch touched, up to the end of that year or today if earlier.

    Called at the end of ``jkfp settle-claims`` (issue 8: "scans also run after each settlement batch").
    """
    today = today or timezone.localdate()
    return [
        alert_scan(as_of=min(date(year, 12, 31), today), today=today)
        for year in sorted(set(years))
        if date(year, 1, 1) <= today
    ]

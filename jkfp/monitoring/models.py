"""防返贫监测 Alert rules, alerts, monitoring cases, their steps, attachments and health measures (domain.md §8).

The scan (``jkfp.monitoring.scan``) evaluates the rules of a county and year on the settlements and
raises at most one ``Alert`` per person, rule and year (a database constraint, not only a check). An
alert opens a ``MonitoringCase`` — or joins the person's case of that year still waiting for its
home visit — and the case is walked through the workflow of ``jkfp.monitoring.workflow``; every step
is a ``CaseStep`` row (who, when, note, attachments).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from jkfp.regions.models import Region
from jkfp.registry.models import Household, Person


class RuleKind(models.TextChoices):
    """预警规则类型 What a rule measures (domain.md §8)."""

    PERSON_OOP = "person_oop", "个人年度自付"
    HOUSEHOLD_OOP = "household_oop", "家庭年度自付合计"
    MAJOR_DISEASE = "major_disease", "新增大病"


class TagMatch(models.TextChoices):
    """人员类别条件 Which persons a rule applies to, by the tags they hold in the year."""

    ANY = "any", "所有人员"
    HOLDING = "holding", "持有所列类别之一"
    NOT_HOLDING = "not_holding", "不持有所列类别"


class ThresholdBasis(models.TextChoices):
    """阈值依据 A fixed amount, or a share of last year's rural per-capita disposable income."""

    AMOUNT = "amount", "固定金额"
    INCOME_SHARE = "income_share", "上年农村居民人均可支配收入的比例"


class CaseStatus(models.TextChoices):
    """监测状态 The states of a monitoring case (domain.md §8)."""

    ALERTED = "alerted", "已预警"
    ASSIGNED = "assigned", "已分派"
    VERIFIED = "verified", "已入户核实"
    NOT_AT_RISK = "not_at_risk", "无返贫致贫风险"
    ALREADY_MONITORED = "already_monitored", "已是监测对象"
    PROPOSED = "proposed", "已提请认定"
    IDENTIFIED = "identified", "已认定为监测对象"
    ASSISTED = "assisted", "已落实帮扶"
    RISK_ELIMINATED = "risk_eliminated", "风险已消除"


class MeasureKind(models.TextChoices):
    """健康帮扶措施 The health measures a case records (domain.md §8)."""

    CONTRACT = "contract", "家庭医生签约"
    AID = "aid", "医疗救助"
    TREATMENT = "treatment", "大病专项救治"
    DEFERRED_PAYMENT = "deferred_payment", "先诊疗后付费"


class MonitoringParameter(models.Model):
    """监测参数 Per county (or city, or province: the most specific region containing a county applies,
    ``selectors.parameter_in_force``) and year: last year's rural per-capita income and the deadlines.

    Missing rows mean the defaults of ``jkfp.monitoring.rules`` (``DEFAULT_DEADLINES``).
    """

    county = models.ForeignKey(
        Region,
        verbose_name="县",
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"level__in": ["province", "city", "county"]},
    )
    year = models.PositiveSmallIntegerField("年度")
    rural_income_amount = models.DecimalField(
        "上年农村居民人均可支配收入（元）", max_digits=14, decimal_places=2, null=True, blank=True
    )
    assign_within_days = models.PositiveSmallIntegerField("分派时限（天，自预警起）", default=3)
    verify_within_days = models.PositiveSmallIntegerField("入户核实时限（天，自预警起）", default=15)
    decide_within_days = models.PositiveSmallIntegerField("核实后研判时限（天，自核实起）", default=7)
    identify_within_days = models.PositiveSmallIntegerField("认定时限（天，自提请起）", default=15)
    assist_within_days = models.PositiveSmallIntegerField("落实帮扶时限（天，自认定起）", default=30)

    class Meta:
        verbose_name = "监测参数"
        verbose_name_plural = "监测参数"
        ordering = ["county_id", "-year"]
        constraints = [
            models.UniqueConstraint(fields=["county", "year"], name="monitoring_param_county_year_uniq"),
            models.CheckConstraint(
                condition=Q(rural_income_amount__isnull=True) | Q(rural_income_amount__gt=0),
                name="monitoring_param_income_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.county_id} {self.year}"


class AlertRule(models.Model):
    """预警规则 One rule of a county (or city, or province, or — no region — the whole deployment) and
    year; per rule code the row of the most specific region containing a county applies
    (``selectors.alert_rules_in_force``). The shipped defaults ``oop_low_income``, ``oop_general``,
    ``major_disease`` (domain.md §8) are deployment-wide rows, so any region's rule of the same code
    overrides them."""

    county = models.ForeignKey(
        Region,
        verbose_name="县",
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        limit_choices_to={"level__in": ["province", "city", "county"]},
        help_text="空：全部署（默认规则）",
    )
    year = models.PositiveSmallIntegerField("年度")
    code = models.SlugField("规则代码", max_length=40)
    name = models.CharField("规则名称", max_length=100)
    kind = models.CharField("类型", max_length=20, choices=RuleKind.choices)
    tag_match = models.CharField(
        "人员类别条件", max_length=20, choices=TagMatch.choices, default=TagMatch.ANY
    )
    # Comma-separated tag codes (registry.TagCode values), e.g. "poor,monitored,tekun,dibao".
    tag_codes = models.CharField("人员类别（逗号分隔）", max_length=200, blank=True)
    basis = models.CharField(
        "阈值依据", max_length=20, choices=ThresholdBasis.choices, default=ThresholdBasis.AMOUNT
    )
    threshold_amount = models.DecimalField(
        "阈值金额（元）", max_digits=14, decimal_places=2, null=True, blank=True
    )
    # 0.5000 = 50 % of the income parameter; for a household rule, per member of the household.
    income_share_rate = models.DecimalField(
        "收入比例（0–1）", max_digits=6, decimal_places=4, null=True, blank=True
    )
    active = models.BooleanField("启用", default=True)
    note = models.CharField("说明", max_length=300, blank=True)

    class Meta:
        verbose_name = "预警规则"
        verbose_name_plural = "预警规则"
        ordering = ["county_id", "-year", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["county", "year", "code"], name="alert_rule_county_year_code_uniq"
            ),
            models.UniqueConstraint(
                fields=["year", "code"],
                condition=Q(county__isnull=True),
                name="alert_rule_deployment_year_code_uniq",
            ),
            models.CheckConstraint(condition=Q(kind__in=RuleKind.values), name="alert_rule_kind_known"),
            models.CheckConstraint(
                condition=Q(threshold_amount__isnull=True) | Q(threshold_amount__gt=0),
                name="alert_rule_threshold_positive",
            ),
            models.CheckConstraint(
                condition=Q(income_share_rate__isnull=True)
                | (Q(income_share_rate__gt=0) & Q(income_share_rate__lte=10)),
                name="alert_rule_share_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.code}）"

    @property
    def tag_list(self) -> list[str]:
        return [code.strip() for code in self.tag_codes.split(",") if code.strip()]


class MonitoringCase(models.Model):
    """监测 One person's monitoring case of a year, walked through the workflow (domain.md §8)."""

    person = models.ForeignKey(
        Person, verbose_name="人员", on_delete=models.PROTECT, related_name="monitoring_cases"
    )
    household = models.ForeignKey(
        Household, verbose_name="户", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    year = models.PositiveSmallIntegerField("年度")
    status = models.CharField("状态", max_length=20, choices=CaseStatus.choices, default=CaseStatus.ALERTED)
    alerted_on = models.DateField("预警日期")
    # The deadline of the current step (None once the case is closed); set by the services at every
    # step so that the overdue filter is one indexed comparison.
    due_on = models.DateField("当前步骤期限", null=True, blank=True)
    verified_on = models.DateField("入户核实日期", null=True, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="核实责任人",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    assignee_name = models.CharField("核实责任人姓名", max_length=50, blank=True)
    external_reference = models.CharField("国家监测系统编号", max_length=100, blank=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "监测"
        verbose_name_plural = "监测"
        ordering = ["-alerted_on", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=CaseStatus.values), name="mcase_status_known"),
        ]
        indexes = [
            models.Index(fields=["status", "due_on"], name="mcase_status_due_idx"),
            models.Index(fields=["person", "year"], name="mcase_person_year_idx"),
            models.Index(fields=["year", "status"], name="mcase_year_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.person} {self.year} {self.get_status_display()}"


class Alert(models.Model):
    """预警 A rule met by a person in a year; raised once per person, rule and year (domain.md §8)."""

    rule = models.ForeignKey(
        AlertRule, verbose_name="预警规则", on_delete=models.PROTECT, related_name="alerts"
    )
    person = models.ForeignKey(Person, verbose_name="人员", on_delete=models.PROTECT, related_name="alerts")
    # Household rules: the household whose combined payments met the rule (one alert per household).
    household = models.ForeignKey(
        Household, verbose_name="户", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    year = models.PositiveSmallIntegerField("年度")
    alerted_on = models.DateField("预警日期")
    # alerted_on + the county's verification deadline of that year, fixed when the alert is raised;
    # alert_handling_rate counts the alert as handled when its case was verified by then (§9).
    verify_due_on = models.DateField("核实期限")
    as_of = models.DateField("数据截止日期")
    # What the scan saw: the payments summed (None for a major-disease alert) and the threshold.
    amount = models.DecimalField("累计自付（元）", max_digits=14, decimal_places=2, null=True, blank=True)
    threshold_amount = models.DecimalField(
        "阈值（元）", max_digits=14, decimal_places=2, null=True, blank=True
    )
    major_disease_case = models.ForeignKey(
        "treatment.MajorDiseaseCase",
        verbose_name="大病救治",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    case = models.ForeignKey(
        MonitoringCase, verbose_name="监测", on_delete=models.PROTECT, related_name="alerts"
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = "预警"
        verbose_name_plural = "预警"
        ordering = ["-alerted_on", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["person", "rule", "year"], name="alert_person_rule_year_uniq"),
            models.UniqueConstraint(
                fields=["household", "rule", "year"],
                condition=Q(household__isnull=False),
                name="alert_household_rule_year_uniq",
            ),
        ]
        indexes = [models.Index(fields=["year", "alerted_on"], name="alert_year_on_idx")]

    def __str__(self) -> str:
        return f"{self.person} {self.rule.code} {self.year}"


class CaseStep(models.Model):
    """监测步骤 One step of a case: from which state to which, who, when, the date it was done, a note."""

    case = models.ForeignKey(
        MonitoringCase, verbose_name="监测", on_delete=models.CASCADE, related_name="steps"
    )
    from_status = models.CharField("原状态", max_length=20, choices=CaseStatus.choices, blank=True)
    to_status = models.CharField("新状态", max_length=20, choices=CaseStatus.choices)
    done_on = models.DateField("办理日期")
    note = models.CharField("说明", max_length=1000, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="办理人",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    username = models.CharField("办理人用户名", max_length=150, blank=True)
    at = models.DateTimeField("记录时间", auto_now_add=True)

    class Meta:
        verbose_name = "监测步骤"
        verbose_name_plural = "监测步骤"
        ordering = ["case_id", "at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status or '—'} → {self.to_status}"


class StepAttachment(models.Model):
    """附件 A file attached to a step (a photo of the home visit, a decision scan), stored under VAR_DIR."""

    step = models.ForeignKey(
        CaseStep, verbose_name="步骤", on_delete=models.CASCADE, related_name="attachments"
    )
    original_name = models.CharField("文件名", max_length=255)
    # Relative to settings.VAR_DIR; the name on disk is random (never the uploaded name).
    stored_path = models.CharField("存放路径", max_length=500)
    content_type = models.CharField("类型", max_length=100)
    size_bytes = models.PositiveIntegerField("大小（字节）")
    created_at = models.DateTimeField("上传时间", auto_now_add=True)

    class Meta:
        verbose_name = "附件"
        verbose_name_plural = "附件"
        ordering = ["step_id", "id"]

    def __str__(self) -> str:
        return self.original_name


class HealthMeasure(models.Model):
    """健康帮扶措施 A health measure of a case: a contract, medical aid, a treatment case, a deferred-payment admission.

    Each kind links its record by an explicit nullable foreign key (contract, treatment case,
    deferred-payment admission); ``reference`` keeps a number typed by hand when the record is not
    in this system (e.g. an aid decision of the civil-affairs office) — see docs/adr/0007-monitoring.md.
    """

    case = models.ForeignKey(
        MonitoringCase, verbose_name="监测", on_delete=models.CASCADE, related_name="measures"
    )
    kind = models.CharField("措施类型", max_length=20, choices=MeasureKind.choices)
    treatment_case = models.ForeignKey(
        "treatment.MajorDiseaseCase",
        verbose_name="大病救治",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    contract = models.ForeignKey(
        "care.Contract",
        verbose_name="家庭医生签约",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    admission = models.ForeignKey(
        "settlement.Admission",
        verbose_name="先诊疗后付费入院",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reference = models.CharField("关联编号", max_length=100, blank=True)
    amount = models.DecimalField("金额（元）", max_digits=14, decimal_places=2, null=True, blank=True)
    taken_on = models.DateField("落实日期")
    note = models.CharField("说明", max_length=500, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="登记人",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField("登记时间", auto_now_add=True)

    class Meta:
        verbose_name = "健康帮扶措施"
        verbose_name_plural = "健康帮扶措施"
        ordering = ["case_id", "taken_on", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=MeasureKind.values), name="measure_kind_known"),
            models.CheckConstraint(
                condition=Q(amount__isnull=True) | Q(amount__gte=0), name="measure_amount_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.get_kind_display()

"""家庭医生签约服务 Care models: teams, contracts, follow-up rules, visits, schedules, checks, deliveries, cards.

domain.md §6. The work list never scans follow-ups: ``Schedule`` keeps, per (person, condition), the
last visit and the next due date, written by ``jkfp.care.services`` (one visit) and the bulk writer of
the imports (``jkfp.care.bulk``). ``docs/adr/0005-care-schedules.md`` explains why.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from jkfp.capacity.models import Staff
from jkfp.regions.models import Institution, Region
from jkfp.registry.models import Disease, Household, Person


class MemberRole(models.TextChoices):
    """团队角色 Role of a member of a family-doctor team."""

    LEADER = "leader", "团队长"
    DOCTOR = "doctor", "家庭医生"
    VILLAGE_DOCTOR = "village_doctor", "村医"
    NURSE = "nurse", "护士"
    PUBLIC_HEALTH = "public_health", "公卫人员"


class Measure(models.TextChoices):
    """控制评价指标 What a condition's classification is computed from (domain.md §6)."""

    BLOOD_PRESSURE = "bp", "血压"
    GLUCOSE = "glucose", "空腹血糖"
    STABILITY = "stability", "病情稳定性"
    NONE = "none", "不评价"


class Classification(models.TextChoices):
    """控制情况 Classification of a condition at one visit."""

    CONTROLLED = "controlled", "控制满意"
    UNCONTROLLED = "uncontrolled", "控制不满意"
    STABLE = "stable", "病情稳定"
    UNSTABLE = "unstable", "病情不稳定"
    NOT_ASSESSED = "not_assessed", "未评价"


class VisitKind(models.TextChoices):
    """随访方式 How a follow-up was made; clinic and home visits are face-to-face."""

    CLINIC = "clinic", "门诊"
    HOME = "home", "家庭"
    PHONE = "phone", "电话"


FACE_TO_FACE_KINDS = (VisitKind.CLINIC, VisitKind.HOME)


class DueReason(models.TextChoices):
    """到期原因 Why the next follow-up falls due when it does."""

    FIRST = "first", "首次随访"
    ROUTINE = "routine", "常规随访"
    REVISIT = "revisit", "14天内复查"
    REFERRAL = "referral", "转诊后随访"


class FollowUpSource(models.TextChoices):
    """随访来源 Where a follow-up record came from."""

    MANUAL = "manual", "本系统登记"
    IMPORT = "import", "公卫系统导入"


class ContractStatus(models.TextChoices):
    """签约状态 State of a contract."""

    ACTIVE = "active", "有效"
    TERMINATED = "terminated", "已解约"


class FollowUpRule(models.Model):
    """随访规则 The follow-up rule of one chronic disease, for one region (domain.md §6 is the default).

    ``county`` empty = the shipped default; a row of a region (a county, or a city or province
    containing counties) overrides it, the most specific region containing a person's county
    winning (``care.selectors.rules_for``; issue 21 item 3).
    """

    county = models.ForeignKey(
        Region, verbose_name="县", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    disease = models.ForeignKey(Disease, verbose_name="病种", on_delete=models.PROTECT, related_name="+")
    visits_per_year = models.PositiveSmallIntegerField("每年随访次数")
    face_to_face = models.BooleanField("须面对面随访", default=True)
    measure = models.CharField("控制评价", max_length=10, choices=Measure.choices, default=Measure.NONE)
    revisit_days = models.PositiveSmallIntegerField("控制不满意/不良反应复查天数", default=14)
    referral_days = models.PositiveSmallIntegerField("转诊后随访天数", default=14)
    referral_after = models.PositiveSmallIntegerField("连续控制不满意几次转诊", default=2)
    due_window_days = models.PositiveSmallIntegerField("到期提前提醒天数", default=7)
    escalate_after_days = models.PositiveSmallIntegerField("逾期几天上报乡镇", default=30)

    class Meta:
        verbose_name = "随访规则"
        verbose_name_plural = "随访规则"
        ordering = ["county_id", "disease_id"]
        constraints = [
            models.UniqueConstraint(fields=["county", "disease"], name="care_rule_county_disease_uniq"),
            models.UniqueConstraint(
                fields=["disease"], condition=Q(county__isnull=True), name="care_rule_default_uniq"
            ),
            models.CheckConstraint(condition=Q(visits_per_year__gte=1), name="care_rule_visits_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.disease} 每年{self.visits_per_year}次"


class ServicePackage(models.Model):
    """服务包 A family-doctor service package and its free service items."""

    name = models.CharField("服务包", max_length=100, unique=True)
    items = models.TextField("免费服务项目（每行一项）", blank=True)

    class Meta:
        verbose_name = "服务包"
        verbose_name_plural = "服务包"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def item_list(self) -> list[str]:
        return [line.strip() for line in self.items.splitlines() if line.strip()]


class Team(models.Model):
    """家庭医生团队 A family-doctor team of a township health centre."""

    township = models.ForeignKey(
        Region, verbose_name="乡镇", on_delete=models.PROTECT, related_name="care_teams"
    )
    institution = models.ForeignKey(
        Institution,
        verbose_name="乡镇卫生院",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="care_teams",
    )
    name = models.CharField("团队名称", max_length=100)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = "家庭医生团队"
        verbose_name_plural = "家庭医生团队"
        ordering = ["township_id", "name"]
        constraints = [models.UniqueConstraint(fields=["township", "name"], name="care_team_name_uniq")]

    def __str__(self) -> str:
        return self.name


class TeamMember(models.Model):
    """团队成员 A member of a team (the village doctor is the household's family doctor)."""

    team = models.ForeignKey(Team, verbose_name="团队", on_delete=models.CASCADE, related_name="members")
    name = models.CharField("姓名", max_length=50)
    role = models.CharField("团队角色", max_length=20, choices=MemberRole.choices, default=MemberRole.DOCTOR)
    phone = models.CharField("联系电话", max_length=40, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="系统账号",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="care_memberships",
    )
    active = models.BooleanField("在岗", default=True)
    # 卫生人员: the member's staff record (post, qualification, institution); linked by hand or, for a
    # unique name among the township's staff on post, by ``services.members_link_staff``.
    staff = models.ForeignKey(
        Staff,
        verbose_name="卫生人员",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="team_memberships",
    )

    class Meta:
        verbose_name = "团队成员"
        verbose_name_plural = "团队成员"
        ordering = ["team_id", "role", "name"]
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="care_member_name_uniq")]

    def __str__(self) -> str:
        return self.name


class DoctorAssignment(models.Model):
    """家庭医生分配 Which member is a household's family doctor, from when to when (history kept)."""

    household = models.ForeignKey(
        Household, verbose_name="户", on_delete=models.CASCADE, related_name="doctor_assignments"
    )
    member = models.ForeignKey(
        TeamMember, verbose_name="家庭医生", on_delete=models.PROTECT, related_name="assignments"
    )
    start_on = models.DateField("起始日期")
    end_on = models.DateField("终止日期", null=True, blank=True)

    class Meta:
        verbose_name = "家庭医生分配"
        verbose_name_plural = "家庭医生分配"
        ordering = ["household_id", "start_on", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["household"], condition=Q(end_on__isnull=True), name="care_assignment_current_uniq"
            ),
        ]


class Contract(models.Model):
    """签约 A yearly family-doctor contract of one person (domain.md §6).

    It covers every day from ``signed_on`` to ``end_on`` inclusive, unless terminated.
    """

    person = models.ForeignKey(
        Person, verbose_name="人员", on_delete=models.CASCADE, related_name="contracts"
    )
    team = models.ForeignKey(Team, verbose_name="团队", on_delete=models.PROTECT, related_name="contracts")
    doctor = models.ForeignKey(
        TeamMember,
        verbose_name="家庭医生",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="contracts",
    )
    package = models.ForeignKey(
        ServicePackage,
        verbose_name="服务包",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="contracts",
    )
    signed_on = models.DateField("签约日期")
    end_on = models.DateField("到期日期")
    handed_over_on = models.DateField("交付日期", null=True, blank=True)
    status = models.CharField(
        "状态", max_length=12, choices=ContractStatus.choices, default=ContractStatus.ACTIVE
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = "签约"
        verbose_name_plural = "签约"
        ordering = ["person_id", "signed_on"]
        constraints = [
            models.UniqueConstraint(fields=["person", "signed_on"], name="care_contract_person_signed_uniq"),
            models.CheckConstraint(condition=Q(end_on__gte=F("signed_on")), name="care_contract_range"),
        ]
        indexes = [models.Index(fields=["end_on", "signed_on"], name="care_contract_span_idx")]

    def __str__(self) -> str:
        return f"{self.person} {self.signed_on:%Y-%m-%d}—{self.end_on:%Y-%m-%d}"


class HealthRecord(models.Model):
    """健康档案 A person's resident health record (its existence is what ``record_rate`` counts)."""

    person = models.OneToOneField(
        Person, verbose_name="人员", on_delete=models.CASCADE, related_name="health_record"
    )
    record_no = models.CharField("档案编号", max_length=40, blank=True)
    opened_on = models.DateField("建档日期")

    class Meta:
        verbose_name = "健康档案"
        verbose_name_plural = "健康档案"


class FollowUp(models.Model):
    """随访 One visit of a person; it may serve several of the person's conditions (``FollowUpItem``)."""

    person = models.ForeignKey(
        Person, verbose_name="人员", on_delete=models.CASCADE, related_name="followups"
    )
    visited_on = models.DateField("随访日期")
    kind = models.CharField("随访方式", max_length=10, choices=VisitKind.choices)
    systolic = models.PositiveSmallIntegerField("收缩压（mmHg）", null=True, blank=True)
    diastolic = models.PositiveSmallIntegerField("舒张压（mmHg）", null=True, blank=True)
    glucose = models.DecimalField("空腹血糖（mmol/L）", max_digits=4, decimal_places=1, null=True, blank=True)
    weight = models.DecimalField("体重（kg）", max_digits=5, decimal_places=1, null=True, blank=True)
    medication = models.CharField("用药情况", max_length=300, blank=True)
    adverse_reaction = models.BooleanField("药物不良反应", default=False)
    new_complication = models.BooleanField("新发并发症", default=False)
    unstable = models.BooleanField("病情不稳定", default=False)
    next_on = models.DateField("下次随访日期", null=True, blank=True)
    doctor = models.ForeignKey(
        TeamMember,
        verbose_name="随访医生",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    source = models.CharField(
        "来源", max_length=10, choices=FollowUpSource.choices, default=FollowUpSource.MANUAL
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="登记人",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = "随访"
        verbose_name_plural = "随访"
        ordering = ["person_id", "-visited_on"]
        # Indexed by the unique constraint (person, visited_on): one visit per person and day.
        constraints = [
            models.UniqueConstraint(fields=["person", "visited_on"], name="care_followup_person_day_uniq"),
            models.CheckConstraint(
                condition=Q(systolic__isnull=True)
                | Q(diastolic__isnull=True)
                | Q(systolic__gt=F("diastolic")),
                name="care_followup_bp_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person} {self.visited_on:%Y-%m-%d}"


class FollowUpItem(models.Model):
    """随访病种 One condition served by a visit, with its classification (what indicators count).

    ``person``, ``visited_on`` and ``face_to_face`` repeat the visit's so that per-condition counts
    (htn_standard_rate, control rates) read this table alone.
    """

    followup = models.ForeignKey(
        FollowUp, verbose_name="随访", on_delete=models.CASCADE, related_name="items"
    )
    person = models.ForeignKey(
        Person, verbose_name="人员", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    disease = models.ForeignKey(Disease, verbose_name="病种", on_delete=models.PROTECT, related_name="+")
    visited_on = models.DateField("随访日期")
    face_to_face = models.BooleanField("面对面")
    classification = models.CharField(
        "控制情况", max_length=15, choices=Classification.choices, default=Classification.NOT_ASSESSED
    )

    class Meta:
        verbose_name = "随访病种"
        verbose_name_plural = "随访病种"
        ordering = ["person_id", "disease_id", "visited_on"]
        constraints = [
            models.UniqueConstraint(
                fields=["person", "disease", "visited_on"], name="care_item_person_disease_day_uniq"
            )
        ]


class Schedule(models.Model):
    """随访计划 The precomputed follow-up state of one person and condition: last visit, next due date.

    Written only by ``jkfp.care.services`` and ``jkfp.care.bulk``; the work lists read nothing else.
    ``village`` repeats the person's so that a village's or township's list is one index range.
    """

    person = models.ForeignKey(
        Person, verbose_name="人员", on_delete=models.CASCADE, related_name="schedules", db_index=False
    )
    disease = models.ForeignKey(Disease, verbose_name="病种", on_delete=models.PROTECT, related_name="+")
    village = models.ForeignKey(
        Region, verbose_name="村", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    last_visit_on = models.DateField("上次随访", null=True, blank=True)
    last_classification = models.CharField(
        "上次控制情况", max_length=15, choices=Classification.choices, blank=True
    )
    uncontrolled_streak = models.PositiveSmallIntegerField("连续控制不满意次数", default=0)
    due_on = models.DateField("下次随访日期")
    reason = models.CharField("到期原因", max_length=10, choices=DueReason.choices, default=DueReason.FIRST)
    escalate_on = models.DateField("上报乡镇日期")

    class Meta:
        verbose_name = "随访计划"
        verbose_name_plural = "随访计划"
        ordering = ["due_on", "person_id"]
        constraints = [
            models.UniqueConstraint(fields=["person", "disease"], name="care_schedule_person_disease_uniq")
        ]
        indexes = [
            models.Index(fields=["village", "due_on"], name="care_schedule_village_due_idx"),
            models.Index(fields=["village", "escalate_on"], name="care_schedule_village_esc_idx"),
        ]


class Checkup(models.Model):
    """体检 A health check of a person, with its items."""

    person = models.ForeignKey(Person, verbose_name="人员", on_delete=models.CASCADE, related_name="checkups")
    checked_on = models.DateField("体检日期")
    institution = models.ForeignKey(
        Institution,
        verbose_name="体检机构",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    items = models.JSONField("体检项目", default=dict, blank=True)
    conclusion = models.CharField("体检结论", max_length=300, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="登记人",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = "体检"
        verbose_name_plural = "体检"
        ordering = ["person_id", "-checked_on"]
        constraints = [
            models.UniqueConstraint(fields=["person", "checked_on"], name="care_checkup_person_day_uniq")
        ]


class DrugDelivery(models.Model):
    """送药 A delivery of medicines to a person (at most 3 months' supply, domain.md §6)."""

    person = models.ForeignKey(
        Person, verbose_name="人员", on_delete=models.CASCADE, related_name="drug_deliveries"
    )
    delivered_on = models.DateField("送药日期")
    drugs = models.CharField("药品", max_length=300)
    supply_days = models.PositiveSmallIntegerField("用药天数")
    delivered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="送药人",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = "送药"
        verbose_name_plural = "送药"
        ordering = ["person_id", "-delivered_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(supply_days__gte=1, supply_days__lte=92), name="care_delivery_supply"
            ),
        ]


class ChronicCard(models.Model):
    """慢病卡 A chronic-disease card: certification date, institution, disease, validity."""

    person = models.ForeignKey(
        Person, verbose_name="人员", on_delete=models.CASCADE, related_name="chronic_cards"
    )
    disease = models.ForeignKey(Disease, verbose_name="病种", on_delete=models.PROTECT, related_name="+")
    certified_on = models.DateField("认定日期")
    institution = models.ForeignKey(
        Institution,
        verbose_name="认定机构",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    valid_to = models.DateField("有效期至", null=True, blank=True)
    card_no = models.CharField("卡号", max_length=40, blank=True)

    class Meta:
        verbose_name = "慢病卡"
        verbose_name_plural = "慢病卡"
        ordering = ["person_id", "certified_on"]
        constraints = [
            models.UniqueConstraint(fields=["person", "disease"], name="care_card_person_disease_uniq"),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=F("certified_on")),
                name="care_card_validity",
            ),
        ]
        indexes = [models.Index(fields=["certified_on"], name="care_card_certified_idx")]

    def __str__(self) -> str:
        return f"{self.person} {self.disease}"

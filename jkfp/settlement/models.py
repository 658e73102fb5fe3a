"""一站式结算 Policies, deferred-payment admissions, claims, settlements and the year ledger (issue 4).

The arithmetic lives in ``jkfp.engine``; these tables keep its inputs and outputs. A settlement row
is never changed after it is written (except its ``is_current`` flag): a re-settlement writes a new
row and the history keeps both. ``YearLedger`` holds a person's seven year-to-date sums per
calendar year and is the row locked while a person's claims are settled.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from jkfp.regions.models import Institution, Region
from jkfp.registry.models import Person

MONEY: dict[str, Any] = {"max_digits": 14, "decimal_places": 2}


class PolicyFormat(models.TextChoices):
    """政策文件格式 Policy file format."""

    TOML = "toml", "TOML"
    JSON = "json", "JSON"


class Policy(models.Model):
    """政策 One version of a settlement policy file (``settlement.md §3``), kept verbatim.

    Immutable once a settlement used it: a change is a new version (same name, version + 1).
    """

    name = models.CharField("政策名称", max_length=100)
    version = models.PositiveIntegerField("版本", default=1)
    title = models.CharField("标题", max_length=300)
    valid_from = models.DateField("起始日期")
    valid_to = models.DateField("终止日期")
    source_text = models.TextField("政策文件原文")
    source_format = models.CharField("文件格式", max_length=4, choices=PolicyFormat.choices)
    sha256 = models.CharField("SHA-256", max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="上传人",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    uploaded_at = models.DateTimeField("上传时间", auto_now_add=True)
    # 适用区划 The region the policy is for (issue 21 item 3); empty: the whole deployment. ``scope``
    # is that region's code prefix (``regions.models.scope_prefix``, "" for the whole deployment),
    # kept beside it so that the policy-in-force rule needs no join (``compute.policy_in_force_of``).
    region = models.ForeignKey(
        Region, verbose_name="适用区划", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    scope = models.CharField("区划前缀", max_length=12, blank=True, default="")

    class Meta:
        verbose_name = "结算政策"
        verbose_name_plural = "结算政策"
        ordering = ["name", "-version"]
        constraints = [models.UniqueConstraint(fields=["name", "version"], name="policy_name_version_uniq")]
        indexes = [models.Index(fields=["valid_from", "valid_to"], name="policy_validity_idx")]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    @property
    def label(self) -> str:
        """名称与版本 ``name v3``: what the API and the slip show as the policy."""
        return f"{self.name} v{self.version}"


class AdmissionStatus(models.TextChoices):
    """入院状态 State of an admission."""

    ADMITTED = "admitted", "在院"
    DISCHARGED = "discharged", "已出院结算"
    CANCELLED = "cancelled", "已撤销"


class Admission(models.Model):
    """入院登记 An admission at a hospital window, with the deferred-payment agreement (先诊疗后付费)."""

    person = models.ForeignKey(
        Person, verbose_name="人员", on_delete=models.PROTECT, related_name="admissions"
    )
    institution = models.ForeignKey(
        Institution, verbose_name="医疗机构", on_delete=models.PROTECT, related_name="admissions"
    )
    admitted_on = models.DateField("入院日期")
    deferred_payment = models.BooleanField("先诊疗后付费", default=False)
    agreement_signed_on = models.DateField("协议签署日期", null=True, blank=True)
    deposit_waived_amount = models.DecimalField("免交押金", default=0, **MONEY)
    status = models.CharField(
        "状态", max_length=12, choices=AdmissionStatus.choices, default=AdmissionStatus.ADMITTED
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="登记人",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField("登记时间", auto_now_add=True)

    class Meta:
        verbose_name = "入院登记"
        verbose_name_plural = "入院登记"
        ordering = ["-admitted_on", "-id"]
        indexes = [models.Index(fields=["institution", "status", "admitted_on"], name="admission_inst_idx")]

    def __str__(self) -> str:
        return f"{self.person_id} {self.admitted_on}"


class ClaimSource(models.TextChoices):
    """结算申请来源 Where a claim came from."""

    API = "api", "医院接口"
    WINDOW = "window", "结算窗口"
    IMPORT = "import", "批量导入"


class ClaimStatus(models.TextChoices):
    """结算申请状态 State of a claim."""

    PENDING = "pending", "待结算"
    SETTLED = "settled", "已结算"
    REVERSED = "reversed", "已冲销"


class ClaimKind(models.TextChoices):
    """就诊类别 A stay or an outpatient special chronic disease claim (``settlement.md`` §6)."""

    INPATIENT = "inpatient", "住院"
    OUTPATIENT = "outpatient", "门诊慢特病"


class Claim(models.Model):
    """结算申请 One hospital stay to settle (``settlement.md §1``), or one outpatient visit for a
    certified chronic disease (§6: ``kind`` outpatient, ``disease`` one of the policy's
    ``outpatient_diseases``, admission = discharge = the visit date); level and in-county are snapshots."""

    # A hospital's own number: unique per institution (``claim_id_institution_uniq``), not county-wide
    # (another hospital may use the same one; issue 17 §6). That index leads with the claim id, so a
    # look-up by the number alone (search, imports) uses it too.
    claim_id = models.CharField("结算号", max_length=64)
    person = models.ForeignKey(Person, verbose_name="人员", on_delete=models.PROTECT, related_name="claims")
    institution = models.ForeignKey(
        Institution, verbose_name="医疗机构", on_delete=models.PROTECT, related_name="claims"
    )
    level = models.PositiveSmallIntegerField("医院等级")
    in_county = models.BooleanField("县域内")
    admission = models.ForeignKey(
        Admission,
        verbose_name="入院登记",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="claims",
    )
    admitted_on = models.DateField("入院日期")
    discharged_on = models.DateField("出院日期")
    # The person's major-disease case whose diagnosis date is the latest on or before the discharge
    # date (set when the claim is created; none → null). ``case.claims`` feeds the treatment ledger.
    major_disease_case = models.ForeignKey(
        "treatment.MajorDiseaseCase",
        verbose_name="大病救治",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="claims",
    )
    total_amount = models.DecimalField("医疗总费用", **MONEY)
    out_of_scope_amount = models.DecimalField("目录外费用", **MONEY)
    referred = models.BooleanField("已转诊备案", default=False)
    kind = models.CharField("就诊类别", max_length=10, choices=ClaimKind.choices, default=ClaimKind.INPATIENT)
    disease = models.CharField("门诊慢特病病种", max_length=50, blank=True)
    # settlement.md §7: a stay already settled by the insurance platform elsewhere carries what basic
    # and critical illness insurance paid (both or neither); the county computes its own layers.
    basic_paid_amount = models.DecimalField("基本医保已付", null=True, blank=True, **MONEY)
    critical_paid_amount = models.DecimalField("大病保险已付", null=True, blank=True, **MONEY)
    request_hash = models.CharField("请求摘要", max_length=64, blank=True)
    source = models.CharField("来源", max_length=10, choices=ClaimSource.choices, default=ClaimSource.API)
    status = models.CharField("状态", max_length=10, choices=ClaimStatus.choices, default=ClaimStatus.PENDING)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="录入人",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    reversed_at = models.DateTimeField("冲销时间", null=True, blank=True)
    reversed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="冲销人",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    reversal_reason = models.CharField("冲销原因", max_length=300, blank=True)

    class Meta:
        verbose_name = "结算申请"
        verbose_name_plural = "结算申请"
        ordering = ["discharged_on", "claim_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind=ClaimKind.INPATIENT) | ~Q(disease=""), name="claim_outpatient_has_disease"
            ),
            models.UniqueConstraint(fields=["claim_id", "institution"], name="claim_id_institution_uniq"),
        ]
        indexes = [
            # The settlement order of a person's year: (discharge date, claim id).
            models.Index(fields=["person", "discharged_on", "claim_id"], name="claim_person_order_idx"),
            models.Index(fields=["discharged_on", "status"], name="claim_discharged_idx"),
            models.Index(fields=["institution", "discharged_on"], name="claim_inst_idx"),
        ]

    def __str__(self) -> str:
        return self.claim_id

    @property
    def year(self) -> int:
        """结算年度 The calendar year of discharge: the year-to-date sums run per this year."""
        return self.discharged_on.year

    @property
    def outpatient(self) -> bool:
        """门诊慢特病 Whether this is an outpatient special chronic disease claim (§6)."""
        return self.kind == ClaimKind.OUTPATIENT

    @property
    def settled_elsewhere(self) -> bool:
        """统筹地已结算 A stay settled by basic and critical illness insurance elsewhere (§7)."""
        return self.basic_paid_amount is not None


class SettlementReason(models.TextChoices):
    """结算原因 Why a settlement row was written."""

    SETTLE = "settle", "出院结算"
    REORDER = "reorder", "补结算顺延重算"
    REVERSAL_RESETTLE = "reversal_resettle", "冲销后重算"
    POLICY_RESETTLE = "policy_resettle", "政策调整重算"


class Settlement(models.Model):
    """结算 The settlement of one claim: inputs' policy and category, every layer, the trace, the
    year-to-date before and after. Amount fields are named as the engine's ``OUTPUT_FIELDS``."""

    claim = models.ForeignKey(
        Claim, verbose_name="结算申请", on_delete=models.PROTECT, related_name="settlements"
    )
    policy = models.ForeignKey(
        Policy, verbose_name="政策", on_delete=models.PROTECT, related_name="settlements"
    )
    category = models.CharField("结算类别", max_length=30)
    counted_total = models.DecimalField("计入结算费用", **MONEY)
    hospital_absorbed = models.DecimalField("医院承担（目录外超限）", **MONEY)
    basic = models.DecimalField("基本医保", **MONEY)
    critical = models.DecimalField("大病保险", **MONEY)
    aid = models.DecimalField("医疗救助", **MONEY)
    supplementary = models.DecimalField("补充医疗保险", **MONEY)
    personal = models.DecimalField("个人负担", **MONEY)
    ratio = models.DecimalField("实际报销比例", max_digits=9, decimal_places=6, null=True, blank=True)
    trace = models.TextField("计算过程", blank=True)
    # The seven year-to-date sums (YTD_FIELDS order) before and after this claim, in integer fen
    # (``ytd_before``/``ytd_after`` give them as yuan texts; ``ytd_before_fen``/``ytd_after_fen`` as tuples).
    ytd_before_basic_fen = models.BigIntegerField("结算前基本医保累计（分）", default=0)
    ytd_before_critical_base_fen = models.BigIntegerField("结算前大病保险累计基数累计（分）", default=0)
    ytd_before_critical_fen = models.BigIntegerField("结算前大病保险累计（分）", default=0)
    ytd_before_aid_fen = models.BigIntegerField("结算前医疗救助累计（分）", default=0)
    ytd_before_aid_deductible_used_fen = models.BigIntegerField("结算前救助起付线已用累计（分）", default=0)
    ytd_before_supplementary_fen = models.BigIntegerField("结算前补充保险累计（分）", default=0)
    ytd_before_personal_fen = models.BigIntegerField("结算前个人负担累计（分）", default=0)
    ytd_after_basic_fen = models.BigIntegerField("结算后基本医保累计（分）", default=0)
    ytd_after_critical_base_fen = models.BigIntegerField("结算后大病保险累计基数累计（分）", default=0)
    ytd_after_critical_fen = models.BigIntegerField("结算后大病保险累计（分）", default=0)
    ytd_after_aid_fen = models.BigIntegerField("结算后医疗救助累计（分）", default=0)
    ytd_after_aid_deductible_used_fen = models.BigIntegerField("结算后救助起付线已用累计（分）", default=0)
    ytd_after_supplementary_fen = models.BigIntegerField("结算后补充保险累计（分）", default=0)
    ytd_after_personal_fen = models.BigIntegerField("结算后个人负担累计（分）", default=0)
    is_current = models.BooleanField("当前有效", default=True)
    reason = models.CharField(
        "原因", max_length=20, choices=SettlementReason.choices, default=SettlementReason.SETTLE
    )
    settled_at = models.DateTimeField("结算时间")
    settled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="结算人",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )

    class Meta:
        verbose_name = "结算"
        verbose_name_plural = "结算"
        ordering = ["-settled_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["claim"], condition=Q(is_current=True), name="settlement_one_current_per_claim"
            )
        ]

    def __str__(self) -> str:
        return f"{self.claim_id} {self.settled_at:%Y-%m-%d %H:%M}"

    @property
    def ytd_before_fen(self) -> tuple[int, ...]:
        """The seven sums before this claim in fen, in ``YTD_FIELDS`` order."""
        return tuple(getattr(self, c) for c in YTD_BEFORE_COLUMNS)

    @property
    def ytd_after_fen(self) -> tuple[int, ...]:
        """The seven sums after this claim in fen, in ``YTD_FIELDS`` order."""
        return tuple(getattr(self, c) for c in YTD_AFTER_COLUMNS)

    @property
    def ytd_before(self) -> dict[str, str]:
        """结算前当年累计 ``{"basic": "14800.00", …}`` — the seven sums before this claim."""
        return ytd_fen_to_dict(self.ytd_before_fen)

    @property
    def ytd_after(self) -> dict[str, str]:
        """结算后当年累计 The seven sums after this claim (same shape as ``ytd_before``)."""
        return ytd_fen_to_dict(self.ytd_after_fen)

    @property
    def paid_by_funds(self) -> Decimal:
        """基金支付合计 basic + critical + aid + supplementary."""
        return self.basic + self.critical + self.aid + self.supplementary


# The seven year-to-date sums, in the engine's YearToDate field order (settlement.md §2).
YTD_FIELDS = (
    "basic",
    "critical_base",
    "critical",
    "aid",
    "aid_deductible_used",
    "supplementary",
    "personal",
)


LEDGER_YTD_COLUMNS = tuple(f"{f}_ytd" for f in YTD_FIELDS)  # YearLedger's columns of the sums
YTD_BEFORE_COLUMNS = tuple(f"ytd_before_{f}_fen" for f in YTD_FIELDS)
YTD_AFTER_COLUMNS = tuple(f"ytd_after_{f}_fen" for f in YTD_FIELDS)


def ytd_fen_to_dict(values: Sequence[int]) -> dict[str, str]:
    """Seven fen integers (``YTD_FIELDS`` order) → ``{field: "yuan.00"}``."""
    return {
        f: f"{'-' if v < 0 else ''}{abs(v) // 100}.{abs(v) % 100:02d}"
        for f, v in zip(YTD_FIELDS, values, strict=True)
    }


class YearLedger(models.Model):
    """年度累计 A person's year-to-date sums in one calendar year (§2's seven, §6's outpatient ones); the
    row locked while settling."""

    person = models.ForeignKey(
        Person, verbose_name="人员", on_delete=models.PROTECT, related_name="year_ledgers"
    )
    year = models.PositiveSmallIntegerField("年度")
    basic_ytd = models.DecimalField("基本医保累计", default=0, **MONEY)
    critical_base_ytd = models.DecimalField("大病保险累计基数", default=0, **MONEY)
    critical_ytd = models.DecimalField("大病保险累计", default=0, **MONEY)
    aid_ytd = models.DecimalField("医疗救助累计", default=0, **MONEY)
    aid_deductible_used_ytd = models.DecimalField("救助起付线已用", default=0, **MONEY)
    supplementary_ytd = models.DecimalField("补充保险累计", default=0, **MONEY)
    personal_ytd = models.DecimalField("个人负担累计", default=0, **MONEY)
    claim_count = models.PositiveIntegerField("已结算笔数", default=0)
    # §6's sums (outpatient deductible used, outpatient basic in all and per disease), integer fen
    # as compact JSON (``compute.outpatient_ytd_text``); "" = no outpatient claim this year. NULL =
    # not kept (a row written before the column): the person's next claim settles the year in order,
    # which sets it.
    outpatient_ytd = models.TextField("门诊慢特病累计（分）", null=True, blank=True, default="")
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "年度累计"
        verbose_name_plural = "年度累计"
        ordering = ["person_id", "year"]
        constraints = [models.UniqueConstraint(fields=["person", "year"], name="ledger_person_year_uniq")]
        indexes = [models.Index(fields=["year", "personal_ytd"], name="ledger_year_personal_idx")]

    def __str__(self) -> str:
        return f"{self.person_id} {self.year}"


# --------------------------------------------------------------------------- 事后补助 · 打卡发放
# Stays settled elsewhere (settlement.md §7): the insurance slip's scan, the person's bank account,
# payment batches and their payments (issue 19, Build 4). The services are ``settlement/subsidies.py``.


class ClaimAttachment(models.Model):
    """结算单附件 The photo or PDF of the insurance slip of a stay settled elsewhere, under VAR_DIR."""

    claim = models.ForeignKey(
        Claim, verbose_name="结算申请", on_delete=models.CASCADE, related_name="attachments"
    )
    original_name = models.CharField("文件名", max_length=255)
    # Relative to settings.VAR_DIR; the name on disk is random (never the uploaded name).
    stored_path = models.CharField("存放路径", max_length=500)
    content_type = models.CharField("类型", max_length=100)
    size_bytes = models.PositiveIntegerField("大小（字节）")
    created_at = models.DateTimeField("上传时间", auto_now_add=True)

    class Meta:
        verbose_name = "结算单附件"
        verbose_name_plural = "结算单附件"
        ordering = ["claim_id", "id"]

    def __str__(self) -> str:
        return self.original_name


class BankAccountKind(models.TextChoices):
    """账户类型 The card a county subsidy is paid to."""

    SOCIAL_SECURITY = "social_security", "社保卡"
    YIKATONG = "yikatong", "一卡通"


class BankAccount(models.Model):
    """银行账户 A person's account for county subsidies (社保卡/一卡通); masked like ID numbers."""

    person = models.OneToOneField(
        Person, verbose_name="人员", on_delete=models.CASCADE, related_name="bank_account"
    )
    kind = models.CharField(
        "账户类型", max_length=20, choices=BankAccountKind.choices, default=BankAccountKind.SOCIAL_SECURITY
    )
    account_no = models.CharField("银行账号", max_length=32)
    bank_name = models.CharField("开户银行", max_length=100, blank=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="登记人",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )

    class Meta:
        verbose_name = "银行账户"
        verbose_name_plural = "银行账户"
        indexes = [models.Index(fields=["account_no"], name="bank_account_no_idx")]

    def __str__(self) -> str:
        return f"{self.person_id} {self.get_kind_display()}"


class BatchStatus(models.TextChoices):
    """发放批次状态 Where a payment batch is."""

    PENDING = "pending", "待审批"
    APPROVED = "approved", "已审批待回盘"
    RETURNED = "returned", "已回盘"


class PaymentBatch(models.Model):
    """发放批次 Subsidies grouped for one bank payment file; made by one person, approved by another."""

    batch_no = models.CharField("批次号", max_length=40, unique=True)
    county = models.ForeignKey(
        "regions.Region", verbose_name="县", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    status = models.CharField("状态", max_length=10, choices=BatchStatus.choices, default=BatchStatus.PENDING)
    note = models.CharField("说明", max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="制单人", on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField("制单时间")
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="审批人",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    approved_at = models.DateTimeField("审批时间", null=True, blank=True)
    exported_at = models.DateTimeField("导出银行文件时间", null=True, blank=True)
    returned_at = models.DateTimeField("回盘时间", null=True, blank=True)

    class Meta:
        verbose_name = "发放批次"
        verbose_name_plural = "发放批次"
        ordering = ["-created_at", "-id"]
        constraints = [
            # maker ≠ checker (制单与审批不得为同一人)
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=models.F("created_by")),
                name="batch_maker_not_checker",
            ),
            models.CheckConstraint(
                condition=Q(status=BatchStatus.PENDING) | Q(approved_by__isnull=False),
                name="batch_approved_has_checker",
            ),
        ]

    def __str__(self) -> str:
        return self.batch_no


class PaymentStatus(models.TextChoices):
    """发放状态 One payment's state."""

    PENDING = "pending", "待发放"
    PAID = "paid", "发放成功"
    FAILED = "failed", "发放失败"


LIVE_PAYMENT = (PaymentStatus.PENDING, PaymentStatus.PAID)


class Payment(models.Model):
    """补助发放 One county subsidy (aid + safety net of a stay settled elsewhere) in one batch.

    A claim has at most one payment that is pending or paid (a database constraint): nothing is
    paid twice; a failed payment stays in its batch and the subsidy may go into a later one.
    """

    batch = models.ForeignKey(
        PaymentBatch, verbose_name="批次", on_delete=models.PROTECT, related_name="payments"
    )
    claim = models.ForeignKey(
        Claim, verbose_name="结算申请", on_delete=models.PROTECT, related_name="payments"
    )
    person = models.ForeignKey(Person, verbose_name="人员", on_delete=models.PROTECT, related_name="payments")
    amount = models.DecimalField("金额", **MONEY)
    account_no = models.CharField("银行账号", max_length=32)
    status = models.CharField(
        "状态", max_length=10, choices=PaymentStatus.choices, default=PaymentStatus.PENDING
    )
    bank_reason = models.CharField("银行说明", max_length=300, blank=True)
    returned_at = models.DateTimeField("回盘时间", null=True, blank=True)

    class Meta:
        verbose_name = "补助发放"
        verbose_name_plural = "补助发放"
        ordering = ["batch_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["claim"],
                condition=Q(status__in=LIVE_PAYMENT),
                name="payment_one_live_per_claim",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.batch_id} {self.claim_id}"

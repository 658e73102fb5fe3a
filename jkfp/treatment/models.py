"""大病专项救治与转诊备案 Major-disease cases, follow-ups, designated hospitals, referrals (domain.md §5, §7).

Claims (结算, issue 4) are not modelled here. The settlement app will point at a case with a nullable
``Claim.major_disease_case = ForeignKey("treatment.MajorDiseaseCase", null=True,
related_name="claims")`` (settlement depends on treatment, never the reverse), so ``case.claims`` is the
link the treatment ledger sums its cost and per-layer payment columns from once settlements exist.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from jkfp.regions.models import Institution
from jkfp.registry.models import Disease, DiseaseKind, Person


class CaseStatus(models.TextChoices):
    """救治状态 Treatment status of a major-disease case (domain.md §7)."""

    TREATED = "treated", "已救治"
    IN_TREATMENT = "in_treatment", "救治中"
    UNTREATED = "untreated", "未救治"
    NOT_NEEDED = "not_needed", "无需救治"


class UntreatedReason(models.TextChoices):
    """未救治原因 Why a case is not (yet) treated; required when the status is ``untreated``."""

    DIALYSIS_CLAIM_PENDING = "dialysis_claim_pending", "透析治疗中，费用尚未报销"
    AWAITING_ELECTIVE_SURGERY = "awaiting_elective_surgery", "等待择期手术"
    REFUSED = "refused", "本人拒绝治疗"
    OUTSIDE_COUNTY = "outside_county", "外出务工在外地治疗"
    OTHER = "other", "其他"


class ReferralStatus(models.TextChoices):
    """转诊审批状态 Approval state of a referral."""

    PENDING = "pending", "待审批"
    APPROVED = "approved", "已批准"
    REJECTED = "rejected", "已驳回"


class DesignatedHospital(models.Model):
    """定点医院 An institution designated to treat one major disease during a period."""

    disease = models.ForeignKey(
        Disease,
        verbose_name="病种",
        on_delete=models.PROTECT,
        related_name="designations",
        limit_choices_to={"kind": DiseaseKind.MAJOR},
    )
    institution = models.ForeignKey(
        Institution, verbose_name="定点医院", on_delete=models.PROTECT, related_name="designations"
    )
    valid_from = models.DateField("起始日期")
    valid_to = models.DateField("终止日期", null=True, blank=True)

    class Meta:
        verbose_name = "定点医院"
        verbose_name_plural = "定点医院"
        ordering = ["disease_id", "institution_id", "valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["disease", "institution", "valid_from"], name="designation_disease_inst_from_uniq"
            ),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=models.F("valid_from")),
                name="designation_valid_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.disease} → {self.institution}"


class MajorDiseaseCase(models.Model):
    """大病救治 One person's case of one listed major disease, and whether it was treated."""

    person = models.ForeignKey(
        Person, verbose_name="人员", on_delete=models.PROTECT, related_name="major_disease_cases"
    )
    disease = models.ForeignKey(
        Disease,
        verbose_name="病种",
        on_delete=models.PROTECT,
        related_name="major_disease_cases",
        limit_choices_to={"kind": DiseaseKind.MAJOR},
    )
    diagnosis_institution = models.ForeignKey(
        Institution,
        verbose_name="确诊医院",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # The diagnosing hospital as named (kept when the institution row is later renamed or removed).
    diagnosis_hospital_name = models.CharField("确诊医院名称", max_length=200, blank=True)
    diagnosed_on = models.DateField("确诊日期")
    designated_institution = models.ForeignKey(
        Institution,
        verbose_name="定点医院",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    status = models.CharField("救治状态", max_length=20, choices=CaseStatus.choices)
    untreated_reason = models.CharField(
        "未救治原因", max_length=40, choices=UntreatedReason.choices, blank=True
    )
    reason_note = models.CharField("原因说明", max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="登记人",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "大病救治"
        verbose_name_plural = "大病救治"
        ordering = ["person_id", "disease_id"]
        constraints = [
            models.UniqueConstraint(fields=["person", "disease"], name="case_person_disease_uniq"),
            # domain.md §7: "untreated needs a reason code"; any other status carries none.
            models.CheckConstraint(
                condition=(Q(status=CaseStatus.UNTREATED) & ~Q(untreated_reason=""))
                | (~Q(status=CaseStatus.UNTREATED) & Q(untreated_reason="")),
                name="case_untreated_needs_reason",
            ),
            models.CheckConstraint(condition=Q(status__in=CaseStatus.values), name="case_status_known"),
        ]
        indexes = [
            models.Index(fields=["status", "disease"], name="case_status_disease_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.person} · {self.disease}"

    @property
    def reason_text(self) -> str:
        """未救治原因（含说明） The reason label followed by the note, for pages and the ledger."""
        if not self.untreated_reason:
            return ""
        label = str(UntreatedReason(self.untreated_reason).label)
        return f"{label}：{self.reason_note}" if self.reason_note else label


class CaseFollowUp(models.Model):
    """出院回访 A follow-up visit of a case after discharge."""

    case = models.ForeignKey(
        MajorDiseaseCase, verbose_name="大病救治", on_delete=models.CASCADE, related_name="followups"
    )
    visited_on = models.DateField("回访日期")
    note = models.CharField("回访情况", max_length=500)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="回访人",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = "出院回访"
        verbose_name_plural = "出院回访"
        ordering = ["case_id", "-visited_on", "-id"]


class CaseChange(models.Model):
    """大病救治变更记录 One change of one field of a case: who, when, from what to what, through what.

    Written by the services and the import in the same transaction as the change itself, so the
    history of a case is complete (issue 6, like the registry's ChangeLog for persons).
    """

    case = models.ForeignKey(
        MajorDiseaseCase, verbose_name="大病救治", on_delete=models.CASCADE, related_name="changes"
    )
    at = models.DateTimeField("时间", auto_now_add=True)
    field = models.CharField("字段", max_length=40)
    old_value = models.CharField("原值", max_length=300, blank=True)
    new_value = models.CharField("新值", max_length=300, blank=True)
    source = models.CharField("途径", max_length=20)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="操作人",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = "大病救治变更记录"
        verbose_name_plural = "大病救治变更记录"
        ordering = ["case_id", "-at", "-id"]


class Referral(models.Model):
    """转诊 A referral record (转诊备案): from, to, date, reason and its approval.

    An out-of-county stay without an approved referral is settled at a lower ratio (domain.md §7);
    ``jkfp.treatment.selectors.referral_flag`` is what settlement asks.
    """

    person = models.ForeignKey(
        Person, verbose_name="人员", on_delete=models.PROTECT, related_name="referrals"
    )
    case = models.ForeignKey(
        MajorDiseaseCase,
        verbose_name="大病救治",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="referrals",
    )
    from_institution = models.ForeignKey(
        Institution, verbose_name="转出机构", on_delete=models.PROTECT, related_name="+"
    )
    to_institution = models.ForeignKey(
        Institution, verbose_name="转入机构", on_delete=models.PROTECT, related_name="+"
    )
    referred_on = models.DateField("转诊日期")
    reason = models.CharField("转诊原因", max_length=300)
    status = models.CharField(
        "审批状态", max_length=10, choices=ReferralStatus.choices, default=ReferralStatus.PENDING
    )
    decision_note = models.CharField("审批意见", max_length=300, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="审批人",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    approved_at = models.DateTimeField("审批时间", null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="登记人",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = "转诊备案"
        verbose_name_plural = "转诊备案"
        ordering = ["-referred_on", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(from_institution=models.F("to_institution")), name="referral_from_differs_to"
            ),
        ]
        indexes = [models.Index(fields=["person", "to_institution", "status"], name="referral_flag_idx")]

    def __str__(self) -> str:
        return f"{self.person} {self.from_institution} → {self.to_institution}"

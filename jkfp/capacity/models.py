"""基层医疗卫生服务能力 Primary-care capacity: staff, the standard in force, paired support, telemedicine, training.

domain.md §12, issue 16. The facilities themselves are ``regions.Institution`` (kind, government-run,
standardisation, served villages); this app keeps who works there (``Staff``), the requirements a county
must meet on a date (``CapacityStandard``; the shipped defaults live in ``standard.DEFAULT_STANDARD``),
and the county's records of paired support (对口帮扶), telemedicine (远程医疗) and training (培训).
Whether the standard holds is computed, never stored: ``standard.assess`` over ``selectors.facts``.
"""

from __future__ import annotations

from datetime import date

from django.db import models
from django.db.models import F, Q

from jkfp.regions.models import Institution, InstitutionLevel, Region


class StaffPost(models.TextChoices):
    """岗位 A health worker's post."""

    DOCTOR = "doctor", "医生"
    NURSE = "nurse", "护士"
    VILLAGE_DOCTOR = "village_doctor", "乡村医生"
    PHARMACY = "pharmacy", "药剂"
    LABORATORY = "laboratory", "检验"
    IMAGING = "imaging", "影像"
    MANAGEMENT = "management", "管理"
    OTHER = "other", "其他"


class Qualification(models.TextChoices):
    """资质 The highest qualification a health worker holds."""

    PHYSICIAN = "physician", "执业医师"
    ASSISTANT_PHYSICIAN = "assistant_physician", "执业助理医师"
    RURAL_GP_ASSISTANT = "rural_gp_assistant", "乡村全科执业助理医师"
    VILLAGE_DOCTOR_CERT = "village_doctor_cert", "乡村医生证"
    GP_TRAINED = "gp_trained", "全科医生培训合格"
    NURSE_LICENCE = "nurse_licence", "护士执业证"
    NONE = "none", "无"


class Staff(models.Model):
    """卫生人员 A health worker at one institution for a period (a hand-over closes one row, opens another).

    ``start_on``/``end_on`` empty mean no bound. The same person may work at two institutions at once
    (a village doctor also sits at the township centre): a warning at import, not an error.
    """

    id_number = models.CharField("身份证号", max_length=18, db_index=True)
    name = models.CharField("姓名", max_length=50)
    institution = models.ForeignKey(
        Institution, verbose_name="机构", on_delete=models.PROTECT, related_name="staff"
    )
    post = models.CharField("岗位", max_length=20, choices=StaffPost.choices)
    qualification = models.CharField("资质", max_length=30, choices=Qualification.choices)
    certificate_no = models.CharField("证书编号", max_length=50, blank=True)
    practice_scope = models.CharField("执业范围", max_length=100, blank=True)
    start_on = models.DateField("起始日期", null=True, blank=True)
    end_on = models.DateField("终止日期", null=True, blank=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "卫生人员"
        verbose_name_plural = "卫生人员"
        ordering = ["institution_id", "name", "start_on", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["id_number", "institution", "start_on"],
                name="capacity_staff_person_institution_start_uniq",
            ),
            # A NULL start date is distinct from every other in a unique index: one open-start row.
            models.UniqueConstraint(
                fields=["id_number", "institution"],
                condition=Q(start_on__isnull=True),
                name="capacity_staff_person_institution_open_uniq",
            ),
            models.CheckConstraint(
                condition=Q(end_on__isnull=True) | Q(start_on__isnull=True) | Q(end_on__gte=F("start_on")),
                name="capacity_staff_end_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.get_post_display()}）"

    def on_post(self, on: date) -> bool:
        """某日在岗 Between 起始日期 and 终止日期 (inclusive; empty means no bound)."""
        return on_post(self.start_on, self.end_on, on)


def on_post(start_on: date | None, end_on: date | None, on: date) -> bool:
    """在岗 The one rule of a dated period: ``start_on <= on <= end_on``, an empty bound is open."""
    return (start_on is None or start_on <= on) and (end_on is None or on <= end_on)


def on_post_q(on: date, prefix: str = "") -> Q:
    """在岗条件 ``on_post`` as a Q over ``start_on``/``end_on`` (``prefix`` leads to them)."""
    return (Q(**{f"{prefix}start_on__isnull": True}) | Q(**{f"{prefix}start_on__lte": on})) & (
        Q(**{f"{prefix}end_on__isnull": True}) | Q(**{f"{prefix}end_on__gte": on})
    )


class CapacityStandard(models.Model):
    """标准要求 The requirements of the “三个一” standard in force in one county for a period.

    Without a row covering a date the shipped defaults apply (``standard.DEFAULT_STANDARD``): each county
    ≥ 1 government-run county hospital of level ≥ 2; each township a government-run, standardised 乡镇卫生院
    with ≥ 1 执业(助理)医师 or 全科医生; each village a standardised clinic or the exception; each clinic
    ≥ 1 qualified village doctor.
    """

    county = models.ForeignKey(Region, verbose_name="县", on_delete=models.CASCADE, related_name="+")
    start_on = models.DateField("起始日期")
    end_on = models.DateField("终止日期", null=True, blank=True)
    county_hospitals_min = models.PositiveSmallIntegerField("政府办县级医院至少（所）", default=1)
    county_hospital_level_min = models.CharField(
        "县级医院等级至少", max_length=1, choices=InstitutionLevel.choices, default=InstitutionLevel.TWO
    )
    township_standardised = models.BooleanField("乡镇卫生院须标准化", default=True)
    township_physicians_min = models.PositiveSmallIntegerField(
        "乡镇卫生院执业（助理）医师或全科医生至少（人）", default=1
    )
    village_standardised = models.BooleanField("村卫生室须标准化", default=True)
    clinic_doctors_min = models.PositiveSmallIntegerField("村卫生室合格村医至少（人）", default=1)
    note = models.CharField("依据文件", max_length=200, blank=True)

    class Meta:
        verbose_name = "“三个一”标准要求"
        verbose_name_plural = "“三个一”标准要求"
        ordering = ["county_id", "start_on"]
        constraints = [
            models.UniqueConstraint(
                fields=["county", "start_on"], name="capacity_standard_county_start_uniq"
            ),
            models.CheckConstraint(
                condition=Q(end_on__isnull=True) | Q(end_on__gte=F("start_on")),
                name="capacity_standard_end_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.county_id} {self.start_on}起"


class SupportLevel(models.TextChoices):
    """帮扶/培训级别 The level of a supporting hospital or of a training."""

    NATIONAL = "national", "国家级"
    PROVINCE = "province", "省级"
    CITY = "city", "市级"
    COUNTY = "county", "县级"
    TOWNSHIP = "township", "乡级"


class PairedSupport(models.Model):
    """对口帮扶 A supporting hospital's support of an institution for a period, with what it delivered."""

    supporting = models.ForeignKey(
        Institution, verbose_name="帮扶医院", on_delete=models.PROTECT, related_name="supports_given"
    )
    supported = models.ForeignKey(
        Institution, verbose_name="受援机构", on_delete=models.PROTECT, related_name="supports_received"
    )
    start_on = models.DateField("起始日期")
    end_on = models.DateField("终止日期", null=True, blank=True)
    staff_count = models.PositiveIntegerField("派驻人员（人）", default=0)
    staff_months = models.DecimalField("驻点时间（人·月）", max_digits=8, decimal_places=1, default=0)
    outpatients_count = models.PositiveIntegerField("门诊（人次）", default=0)
    operations_count = models.PositiveIntegerField("手术（台次）", default=0)
    trainings_count = models.PositiveIntegerField("培训（场次）", default=0)
    note = models.CharField("备注", max_length=200, blank=True)

    class Meta:
        verbose_name = "对口帮扶"
        verbose_name_plural = "对口帮扶"
        ordering = ["supported_id", "start_on", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["supporting", "supported", "start_on"], name="capacity_support_uniq"
            ),
            models.CheckConstraint(
                condition=Q(end_on__isnull=True) | Q(end_on__gte=F("start_on")),
                name="capacity_support_end_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.supporting_id}→{self.supported_id} {self.start_on}"


class TelemedicineLink(models.Model):
    """远程医疗 An institution connected to a telemedicine service, from when to when."""

    institution = models.OneToOneField(
        Institution, verbose_name="机构", on_delete=models.PROTECT, related_name="telemedicine"
    )
    partner = models.CharField("对接机构（平台）", max_length=200)
    connected_on = models.DateField("接入日期")
    disconnected_on = models.DateField("停用日期", null=True, blank=True)

    class Meta:
        verbose_name = "远程医疗接入"
        verbose_name_plural = "远程医疗接入"
        ordering = ["institution_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(disconnected_on__isnull=True) | Q(disconnected_on__gte=F("connected_on")),
                name="capacity_telemedicine_end_after_start",
            )
        ]

    def __str__(self) -> str:
        return f"{self.institution_id} ↔ {self.partner}"


def connected_q(on: date, prefix: str = "") -> Q:
    """已接入 Connected on ``on``: ``connected_on <= on`` and not yet disconnected (停用日期 after it)."""
    return Q(**{f"{prefix}connected_on__lte": on}) & (
        Q(**{f"{prefix}disconnected_on__isnull": True}) | Q(**{f"{prefix}disconnected_on__gt": on})
    )


class Teleconsultation(models.Model):
    """远程会诊 Consultations of one connected institution in one month (``month`` is its first day)."""

    link = models.ForeignKey(
        TelemedicineLink, verbose_name="远程医疗接入", on_delete=models.CASCADE, related_name="months"
    )
    month = models.DateField("月份")
    consultations_count = models.PositiveIntegerField("会诊（人次）")

    class Meta:
        verbose_name = "远程会诊"
        verbose_name_plural = "远程会诊"
        ordering = ["link_id", "month"]
        constraints = [
            models.UniqueConstraint(fields=["link", "month"], name="capacity_teleconsultation_uniq"),
            models.CheckConstraint(condition=Q(month__day=1), name="capacity_teleconsultation_first_day"),
        ]


class Training(models.Model):
    """培训 One training session: date, topic, organiser, level."""

    held_on = models.DateField("培训日期")
    topic = models.CharField("培训主题", max_length=200)
    organiser = models.CharField("主办单位", max_length=200)
    level = models.CharField("级别", max_length=10, choices=SupportLevel.choices)

    class Meta:
        verbose_name = "培训"
        verbose_name_plural = "培训"
        ordering = ["-held_on", "topic"]
        constraints = [
            models.UniqueConstraint(fields=["held_on", "topic", "organiser"], name="capacity_training_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.held_on} {self.topic}"


class TrainingAttendance(models.Model):
    """参训 How many people of one institution attended one training."""

    training = models.ForeignKey(
        Training, verbose_name="培训", on_delete=models.CASCADE, related_name="attendances"
    )
    institution = models.ForeignKey(
        Institution, verbose_name="机构", on_delete=models.PROTECT, related_name="training_attendances"
    )
    attendees_count = models.PositiveIntegerField("参训人数")

    class Meta:
        verbose_name = "参训人员"
        verbose_name_plural = "参训人员"
        ordering = ["training_id", "institution_id"]
        constraints = [
            models.UniqueConstraint(fields=["training", "institution"], name="capacity_attendance_uniq")
        ]

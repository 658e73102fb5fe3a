"""户、人员、人员类别、患病情况与来源 Registry models (domain.md §4, §5)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Concat, Substr

from jkfp.regions.models import Region, RegionLevel, code_prefix, level_of_code


class TagCode(models.TextChoices):
    """人员类别 Dated population categories (domain.md §4)."""

    POOR = "poor", "建档立卡/脱贫"
    MONITORED = "monitored", "防返贫监测对象"
    TEKUN = "tekun", "特困供养"
    DIBAO = "dibao", "低保"
    ORPHAN = "orphan", "孤儿"
    DISABLED = "disabled", "残疾"
    SEVERE_MENTAL = "severe_mental", "严重精神障碍"
    FAMILY_PLANNING_HARDSHIP = "family_planning_hardship", "计生特困"


# Values written in source lists → (tag code, exited). 脱贫 is `poor` recorded as exited (domain.md §4).
SOURCE_TAG_VALUES: dict[str, tuple[str, bool]] = {
    "建档立卡": (TagCode.POOR, False),
    "脱贫": (TagCode.POOR, True),
    "监测对象": (TagCode.MONITORED, False),
    "特困": (TagCode.TEKUN, False),
    "低保": (TagCode.DIBAO, False),
    "孤儿": (TagCode.ORPHAN, False),
    "残疾": (TagCode.DISABLED, False),
    "严重精神障碍": (TagCode.SEVERE_MENTAL, False),
    "计生特困": (TagCode.FAMILY_PLANNING_HARDSHIP, False),
    # 监测对象 with its subtype (domain.md §4; issue 18): stored as the tag's ``subtype``.
    "脱贫不稳定户": (TagCode.MONITORED, False),
    "边缘易致贫户": (TagCode.MONITORED, False),
    "突发严重困难户": (TagCode.MONITORED, False),
}
# 监测对象子类 The source values that name a subtype of 监测对象 (``Tag.subtype``).
MONITORED_SUBTYPES = ("脱贫不稳定户", "边缘易致贫户", "突发严重困难户")


def tag_codes(text: str) -> list[tuple[str, bool, str]]:
    """(code, exited, subtype) triples, sorted by code, of a canonical 人员类别 text (values joined by 、):
    a code named twice is exited if either says so; its subtypes (监测对象's) joined by 、."""
    codes: dict[str, tuple[bool, list[str]]] = {}
    for value in text.split("、"):
        code, exited = SOURCE_TAG_VALUES[value]
        was, subtypes = codes.get(str(code), (False, []))
        codes[str(code)] = (was or exited, [*subtypes, value] if value in MONITORED_SUBTYPES else subtypes)
    return [(code, exited, "、".join(sorted(subtypes))) for code, (exited, subtypes) in sorted(codes.items())]


# Tags that make a person a target person of a year (domain.md §9).
TARGET_TAGS = (TagCode.POOR, TagCode.MONITORED, TagCode.TEKUN, TagCode.DIBAO)


class LivingStatus(models.TextChoices):
    """居住状态 Living status."""

    HOME = "home", "在家"
    AWAY = "away", "外出"
    DEAD = "dead", "死亡"
    LOST = "lost", "失联"


class VerificationStatus(models.TextChoices):
    """核实核准状态 Verification status."""

    PENDING = "pending", "待核实"
    CONFIRMED = "confirmed", "已核准"
    REJECTED = "rejected", "已否决"


class DiseaseKind(models.TextChoices):
    """病种类别 Kind of catalogue disease (domain.md §4, §5)."""

    MAJOR = "major", "大病专项救治"
    CHRONIC = "chronic", "慢病"
    SPECIAL_CHRONIC = "special_chronic", "门诊慢特病"
    PUBLIC_HEALTH = "public_health", "公共卫生疾病"


class Disease(models.Model):
    """病种目录 A catalogue disease; dated and editable by the county (domain.md §5)."""

    name = models.CharField("病种", max_length=100, unique=True)
    kind = models.CharField("类别", max_length=20, choices=DiseaseKind.choices)
    icd10 = models.CharField("ICD-10", max_length=40, blank=True)
    aliases = models.CharField("别名（、分隔）", max_length=300, blank=True)
    valid_from = models.DateField("启用日期", null=True, blank=True)
    valid_to = models.DateField("停用日期", null=True, blank=True)
    visits_per_year = models.PositiveSmallIntegerField("每年随访次数", default=0)

    class Meta:
        verbose_name = "病种目录"
        verbose_name_plural = "病种目录"
        ordering = ["kind", "name"]

    def __str__(self) -> str:
        return self.name


# Levels a catalogue entry may be set for (issue 21 item 3): a county and the regions above it.
CATALOGUE_LEVELS = (RegionLevel.PROVINCE, RegionLevel.CITY, RegionLevel.COUNTY)
ERR_CATALOGUE_LEVEL = "病种目录只能按省、市、县设置，{region}是{level}"
ERR_CATALOGUE_DATES = "停用日期不能早于启用日期"
ERR_CATALOGUE_VISITS = "每年随访次数只适用于慢病（{name}是{kind}）"
ERR_CATALOGUE_DUPLICATE = "病种“{name}”在{region}已有目录设置，请修改原设置"


class CatalogueEntry(models.Model):
    """区划病种目录 A region's setting of one catalogue disease (issue 21 item 3, domain.md §5).

    The ``Disease`` rows, with their own dates, are the whole deployment's catalogue. An entry of a
    province, city or county (or, by a superuser, of the whole deployment: ``region`` empty) replaces
    for that region and everything below it whether the disease is in the catalogue (``included``),
    from and to when (``valid_from``/``valid_to``, empty = no bound), and for a chronic disease its
    yearly visits (``visits_per_year``, empty = the catalogue's). For a person's county, the entry of
    the most specific region containing it decides (``registry.disease_catalogue``); ``scope`` is the
    region's code prefix ("" for the deployment), derived on save.
    """

    disease = models.ForeignKey(
        Disease, verbose_name="病种", on_delete=models.CASCADE, related_name="catalogue_entries"
    )
    region = models.ForeignKey(
        Region, verbose_name="适用区划", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    scope = models.CharField("区划前缀", max_length=12, blank=True, default="")
    included = models.BooleanField("纳入目录", default=True, help_text="不勾选：该区划及其下级不含此病种")
    valid_from = models.DateField("启用日期", null=True, blank=True)
    valid_to = models.DateField("停用日期", null=True, blank=True)
    visits_per_year = models.PositiveSmallIntegerField(
        "每年随访次数", null=True, blank=True, help_text="慢病；留空沿用病种目录的次数"
    )

    class Meta:
        verbose_name = "区划病种目录"
        verbose_name_plural = "区划病种目录"
        ordering = ["scope", "disease_id"]
        constraints = [
            models.UniqueConstraint(fields=["disease", "scope"], name="catalogue_entry_disease_scope_uniq"),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True)
                | Q(valid_from__isnull=True)
                | Q(valid_to__gte=models.F("valid_from")),
                name="catalogue_entry_valid_range",
            ),
        ]

    def __str__(self) -> str:
        where = self.region.name if self.region is not None else "全系统"
        return f"{where} {self.disease}{'' if self.included else '（不含）'}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """The scope is always the region's prefix ("" for none), never typed in."""
        self.scope = code_prefix(self.region_id) if self.region_id else ""
        super().save(*args, **kwargs)

    def clean(self) -> None:
        """区划级别、日期、随访次数、唯一 Checked here with messages naming the field (the admin's form
        does not hold ``scope``, so the unique constraint is not validated there)."""
        super().clean()
        errors: dict[str, str] = {}
        if self.region_id:
            level = level_of_code(self.region_id)
            if level not in CATALOGUE_LEVELS:
                label = RegionLevel(level).label if level else "未知级别"
                errors["region"] = ERR_CATALOGUE_LEVEL.format(region=self.region, level=label)
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            errors["valid_to"] = ERR_CATALOGUE_DATES
        disease = self.disease if self.disease_id else None
        if disease is not None and self.visits_per_year is not None and disease.kind != DiseaseKind.CHRONIC:
            errors["visits_per_year"] = ERR_CATALOGUE_VISITS.format(
                name=disease.name, kind=disease.get_kind_display()
            )
        if disease is not None and "region" not in errors:
            scope = code_prefix(self.region_id) if self.region_id else ""
            same = CatalogueEntry.objects.filter(disease=disease, scope=scope).exclude(pk=self.pk)
            if same.exists():
                errors["disease"] = ERR_CATALOGUE_DUPLICATE.format(
                    name=disease.name, region=self.region if self.region_id else "全系统"
                )
        if errors:
            raise ValidationError(errors)


class Household(models.Model):
    """户 A household, keyed by its household number from the poverty system."""

    # Unique through Meta.constraints (on PostgreSQL ``unique=True`` adds a second, pattern-ops index).
    household_no = models.CharField("户编号", max_length=40)
    # Indexed by Meta.indexes (village, household_no), whose first column serves the foreign key too.
    village = models.ForeignKey(
        Region, verbose_name="村", on_delete=models.PROTECT, related_name="households", db_index=False
    )
    head = models.ForeignKey(
        "Person", verbose_name="户主", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cadre = models.CharField("帮扶责任人", max_length=50, blank=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = "户"
        verbose_name_plural = "户"
        ordering = ["household_no"]
        constraints = [models.UniqueConstraint(fields=["household_no"], name="household_no_uniq")]
        indexes = [models.Index(fields=["village", "household_no"])]

    def __str__(self) -> str:
        return self.household_no


class Person(models.Model):
    """人员 A target (or formerly target) person, keyed by the resident ID number."""

    # Unique through Meta.constraints (on PostgreSQL ``unique=True`` adds a second, pattern-ops index).
    id_number = models.CharField("身份证号", max_length=18)
    name = models.CharField("姓名", max_length=50)
    sex = models.CharField("性别", max_length=1, choices=[("M", "男"), ("F", "女")])
    birth_date = models.DateField("出生日期")
    phone = models.CharField("联系电话", max_length=40, blank=True)
    # Indexed by Meta.indexes (village, name), whose first column serves the foreign key too.
    village = models.ForeignKey(
        Region, verbose_name="村", on_delete=models.PROTECT, related_name="persons", db_index=False
    )
    household = models.ForeignKey(
        Household, verbose_name="户", null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    relation = models.CharField("与户主关系", max_length=20, blank=True)
    living_status = models.CharField(
        "居住状态", max_length=10, choices=LivingStatus.choices, default=LivingStatus.HOME
    )
    death_on = models.DateField("死亡日期", null=True, blank=True)
    verification_status = models.CharField(
        "核实状态", max_length=10, choices=VerificationStatus.choices, default=VerificationStatus.PENDING
    )
    verified_on = models.DateField("核实日期", null=True, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="核实人",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # never searched; an index would cost every roster import
    )
    verification_note = models.CharField("核实说明", max_length=300, blank=True)
    outside_systems = models.BooleanField("系统外", default=False)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)
    # The last 8 characters of the ID number reversed, computed by the database itself, so that a
    # search by the ID's last digits is an index range (``id_tail_rev`` starts with the reversed
    # digits) instead of a scan; raw bulk loads need not fill it.
    id_tail_rev = models.GeneratedField(
        expression=Concat(*(Substr("id_number", i, 1) for i in range(18, 10, -1))),
        output_field=models.CharField(max_length=8),
        db_persist=True,
        verbose_name="身份证号尾号（倒序）",
    )

    class Meta:
        verbose_name = "人员"
        verbose_name_plural = "人员"
        ordering = ["village_id", "household_id", "id"]
        constraints = [models.UniqueConstraint(fields=["id_number"], name="person_id_number_uniq")]
        indexes = [
            models.Index(fields=["village", "name"]),
            # Search by name within a region: the name range leads, the region range is checked
            # inside the index (SQLite would otherwise scan the whole county's village range).
            models.Index(fields=["name", "village"], name="person_name_village_idx"),
            models.Index(fields=["id_tail_rev", "village"], name="person_id_tail_idx"),
        ]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """户成员变动 Membership history of a person in a household."""

    person = models.ForeignKey(
        Person, verbose_name="人员", on_delete=models.CASCADE, related_name="memberships"
    )
    household = models.ForeignKey(
        Household, verbose_name="户", on_delete=models.CASCADE, related_name="memberships"
    )
    relation = models.CharField("与户主关系", max_length=20, blank=True)
    start_on = models.DateField("起始日期")
    end_on = models.DateField("终止日期", null=True, blank=True)

    class Meta:
        verbose_name = "户成员变动"
        verbose_name_plural = "户成员变动"
        ordering = ["person_id", "start_on", "id"]


class Tag(models.Model):
    """人员类别 A dated population category of a person, with the list that named it."""

    # Indexed by Meta.indexes (person, code).
    person = models.ForeignKey(
        Person, verbose_name="人员", on_delete=models.CASCADE, related_name="tags", db_index=False
    )
    code = models.CharField("类别", max_length=30, choices=TagCode.choices)
    start_on = models.DateField("起始日期")
    end_on = models.DateField("终止日期", null=True, blank=True)
    exited = models.BooleanField("已脱贫", default=False)
    source = models.CharField("来源名单", max_length=50)
    reference = models.CharField("来源参考", max_length=100, blank=True)
    subtype = models.CharField("子类", max_length=30, blank=True)

    class Meta:
        verbose_name = "人员类别"
        verbose_name_plural = "人员类别"
        ordering = ["person_id", "code", "start_on"]
        indexes = [
            models.Index(fields=["person", "code"]),
            models.Index(fields=["source", "code"]),
            # The open tags of a source started before a list's year (``imports._older_open_tags``): a
            # range of this index, not every tag of a province's source (issue 21).
            models.Index(
                fields=["source", "start_on"],
                condition=models.Q(end_on__isnull=True),
                name="registry_tag_open_start",
            ),
        ]

    def __str__(self) -> str:
        return self.get_code_display()


class Condition(models.Model):
    """患病情况 A diagnosed disease of a person; unmatched names are kept without a catalogue link."""

    # Indexed by the unique constraint (person, name).
    person = models.ForeignKey(
        Person, verbose_name="人员", on_delete=models.CASCADE, related_name="conditions", db_index=False
    )
    disease = models.ForeignKey(
        Disease,
        verbose_name="病种",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="conditions",
    )
    name = models.CharField("疾病名称（原文）", max_length=100)
    source = models.CharField("来源", max_length=50, blank=True)
    diagnosed_on = models.DateField("确诊日期", null=True, blank=True)

    class Meta:
        verbose_name = "患病情况"
        verbose_name_plural = "患病情况"
        ordering = ["person_id", "name"]
        constraints = [models.UniqueConstraint(fields=["person", "name"], name="condition_person_name_uniq")]

    def __str__(self) -> str:
        return self.name

    @property
    def unmatched(self) -> bool:
        return self.disease_id is None


class SourceRecord(models.Model):
    """来源记录 What one source list says of one person (provenance, domain.md §4.1)."""

    # Indexed by the unique constraint (person, source).
    person = models.ForeignKey(
        Person, verbose_name="人员", on_delete=models.CASCADE, related_name="sources", db_index=False
    )
    source = models.CharField("来源名单", max_length=50)
    year = models.PositiveSmallIntegerField("名单年度")
    name = models.CharField("姓名", max_length=50)
    village_code = models.CharField("村代码", max_length=12)
    household_no = models.CharField("户编号", max_length=40, blank=True)
    relation = models.CharField("与户主关系", max_length=20, blank=True)
    tags = models.CharField("人员类别", max_length=200, blank=True)
    conditions = models.CharField("患病情况", max_length=500, blank=True)
    phone = models.CharField("联系电话", max_length=40, blank=True)
    active = models.BooleanField("在最新名单中", default=True)
    first_seen_at = models.DateTimeField("首次出现")
    last_seen_at = models.DateTimeField("最近出现")

    class Meta:
        verbose_name = "来源记录"
        verbose_name_plural = "来源记录"
        ordering = ["person_id", "source"]
        constraints = [models.UniqueConstraint(fields=["person", "source"], name="source_person_uniq")]
        indexes = [
            models.Index(fields=["source", "active"]),
            # A county's list in a province (issue 21): its re-import compares the records of its own
            # villages only (``roster_diff``), a range of this index, not every record of the source.
            models.Index(fields=["source", "village_code"], name="registry_src_source_village"),
            # The source's newest list year (``imports._check_arguments``): one index descent, not a
            # read of every record of a province's source (issue 21).
            models.Index(fields=["source", "year"], name="registry_src_source_year"),
        ]


class ChangeLog(models.Model):
    """变更记录 The change history of every field of a person (who or which list, when, old → new)."""

    person = models.ForeignKey(Person, verbose_name="人员", on_delete=models.CASCADE, related_name="changes")
    at = models.DateTimeField("时间", auto_now_add=True)
    field = models.CharField("字段", max_length=40)
    old_value = models.CharField("原值", max_length=500, blank=True)
    new_value = models.CharField("新值", max_length=500, blank=True)
    source = models.CharField("来源", max_length=50, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="操作人", null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        verbose_name = "变更记录"
        verbose_name_plural = "变更记录"
        ordering = ["person_id", "at", "id"]
        indexes = [
            # Who moved out of a region (old village under its prefix) since a day: a county's
            # re-settlement reads the stays of its residents on the discharge date (issue 21).
            models.Index(
                fields=["old_value", "at"],
                condition=models.Q(field="village"),
                name="registry_changelog_moved_out",
            ),
        ]


class ImportKind(models.TextChoices):
    """导入类型 What an import run loads."""

    ROSTER = "roster", "花名册"
    REGIONS = "regions", "行政区划"
    INSTITUTIONS = "institutions", "医疗机构"
    CASES = "cases", "大病救治"
    CLAIMS = "claims", "结算申请"
    CONTRACTS = "contracts", "家庭医生签约"
    FOLLOWUPS = "followups", "随访记录"
    ENROLMENT = "enrolment", "参保"
    STAFF = "staff", "卫生人员"
    SUPPORT = "support", "对口帮扶"
    TELEMEDICINE = "telemedicine", "远程医疗"
    TRAINING = "training", "培训"
    COVERAGE = "coverage", "卫生院覆盖村（例外）"
    CARDS = "cards", "慢病卡"
    BANK_ACCOUNTS = "bank_accounts", "银行账号（事后补助）"


class ImportStatus(models.TextChoices):
    """导入状态 State of an import run."""

    QUEUED = "queued", "排队中"
    RUNNING = "running", "导入中"
    DONE = "done", "已完成"
    FAILED = "failed", "失败"
    MAPPING = "mapping", "待映射"
    PREVIEW = "preview", "待确认"


class ImportRun(models.Model):
    """导入记录 One import of one file, with its summary and error report."""

    kind = models.CharField("类型", max_length=20, choices=ImportKind.choices)
    source = models.CharField("来源名单", max_length=50, blank=True)
    year = models.PositiveSmallIntegerField("名单年度", null=True, blank=True)
    file_name = models.CharField("文件名", max_length=255)
    stored_path = models.CharField("存放路径", max_length=500, blank=True)
    status = models.CharField(
        "状态", max_length=10, choices=ImportStatus.choices, default=ImportStatus.QUEUED
    )
    progress = models.PositiveSmallIntegerField("进度（%）", default=0)
    summary = models.JSONField("汇总", default=dict, blank=True)
    errors_file = models.CharField("错误报告", max_length=500, blank=True)
    message = models.CharField("说明", max_length=1000, blank=True)
    # 映射 The column and value mapping (TOML, ``core.tabular_map``) this run applies: its source's template.
    mapping = models.TextField("映射", blank=True)
    # 预览 Run as a dry run first (nothing written): the page shows the preview, 确认导入 runs it for real.
    dry_run = models.BooleanField("预览（不写入）", default=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="操作人", null=True, blank=True, on_delete=models.SET_NULL
    )
    region = models.ForeignKey(
        Region, verbose_name="操作人区划", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    started_at = models.DateTimeField("开始时间", null=True, blank=True)
    finished_at = models.DateTimeField("结束时间", null=True, blank=True)
    # 执行进程 The process running it (core/runner.py token): a run whose process has ended is marked
    # failed by the next worker start or the worker's periodic check (jkfp/ops/recovery.py).
    runner = models.CharField("执行进程", max_length=64, blank=True)
    # 数据已写入 Set inside the import's write transaction (registry/tasks.py ``data_written_marked``):
    # true exactly when that transaction committed, whatever happened to the process afterwards.
    data_written = models.BooleanField("数据已写入", default=False)

    class Meta:
        verbose_name = "导入记录"
        verbose_name_plural = "导入记录"
        ordering = ["-created_at", "-id"]


class ImportTemplate(models.Model):
    """导入模板 The saved column and value mapping of one source's lists (issue 18 item 3): applied by
    itself to the next file of the same source (never to another source's), edited and downloaded as TOML."""

    kind = models.CharField("类型", max_length=20, choices=ImportKind.choices)
    source = models.CharField("来源名单", max_length=50)
    region = models.ForeignKey(Region, verbose_name="区划", on_delete=models.CASCADE, related_name="+")
    mapping = models.TextField("映射（TOML）")
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="修改人", null=True, blank=True, on_delete=models.SET_NULL
    )
    updated_at = models.DateTimeField("修改时间", auto_now=True)

    class Meta:
        verbose_name = "导入模板"
        verbose_name_plural = "导入模板"
        ordering = ["kind", "source"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "region", "source"], name="registry_importtemplate_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.source}（{self.get_kind_display()}）"


class Enrolment(models.Model):
    """参保 A person's basic medical insurance status of one year: insured or not, the personal premium paid
    and the subsidy received (domain.md §9 ``enrolment_rate``, §11). Loaded by ``jkfp import-enrolment``."""

    person = models.ForeignKey(
        Person, verbose_name="人员", on_delete=models.CASCADE, related_name="enrolments"
    )
    year = models.PositiveSmallIntegerField("年度")
    insured = models.BooleanField("已参保")
    insured_on = models.DateField("参保日期", null=True, blank=True)
    premium_paid = models.DecimalField("个人缴费（元）", max_digits=10, decimal_places=2, default=0)
    subsidy_amount = models.DecimalField("资助金额（元）", max_digits=10, decimal_places=2, default=0)
    source = models.CharField("来源文件", max_length=100, blank=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "参保记录"
        verbose_name_plural = "参保记录"
        ordering = ["year", "person_id"]
        constraints = [
            models.UniqueConstraint(fields=["person", "year"], name="enrolment_person_year_uniq"),
            models.CheckConstraint(
                condition=models.Q(premium_paid__gte=0) & models.Q(subsidy_amount__gte=0),
                name="enrolment_amounts_not_negative",
            ),
        ]
        indexes = [models.Index(fields=["year", "insured"], name="enrolment_year_insured")]

    def __str__(self) -> str:
        return f"{self.year} {'已参保' if self.insured else '未参保'}"

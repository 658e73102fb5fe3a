"""花名册写操作 Registry services: every write of the registry goes through here."""

from __future__ import annotations

import csv
from importlib import resources
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from jkfp.accounts.models import AuditAction, Role, User
from jkfp.accounts.scoping import role_require
from jkfp.accounts.services import audit_record
from jkfp.core.tabular_map import ImportMapping, MappingError, header_lookup, normalise_header, parse_mapping
from jkfp.registry.models import (
    ChangeLog,
    Disease,
    ImportKind,
    ImportRun,
    ImportStatus,
    ImportTemplate,
    Person,
    VerificationStatus,
)
from jkfp.registry.tasks import enrolment_import_task, roster_import_task
from jkfp.registry.uploads import import_source_delete, store_upload
from jkfp.registry.years import LIST_MIN_YEAR, list_max_year, list_year_ok


def disease_catalogue_load() -> int:
    """载入病种目录 Load the shipped disease catalogue; existing names are left as the county edited them.

    Returns the number of diseases created (0 when run again).
    """
    text = resources.files("jkfp.registry").joinpath("catalogue/diseases.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    existing = set(Disease.objects.values_list("name", flat=True))
    new = [
        Disease(
            name=row["name"],
            kind=row["kind"],
            icd10=row["icd10"],
            aliases=row["aliases"],
            visits_per_year=int(row["visits_per_year"] or 0),
        )
        for row in rows
        if row["name"] not in existing
    ]
    with transaction.atomic():
        Disease.objects.bulk_create(new)
    return len(new)


# ---------------------------------------------------------------------------------------------
# 核实核准与网页导入 Verification and imports started from the web pages.

VERIFY_ROLES = frozenset({Role.COUNTY_ADMIN, Role.TOWNSHIP})
IMPORT_ROLES = frozenset({Role.COUNTY_ADMIN})
IMPORT_SUFFIXES = frozenset({".csv", ".xlsx"})
VERIFY_SOURCE = "核实核准"

ERR_VERIFY_ROLE = "只有县卫健局管理员和乡镇卫生院可以核实核准"
ERR_VERIFY_STATUS = "核实结果只能是“已核准”或“已否决”"
ERR_VERIFY_NOTE = "核实说明不能超过300字"
ERR_IMPORT_ROLE = "只有县卫健局管理员可以导入名单"
ERR_IMPORT_SOURCE = "请填写来源名单名称（不超过50字）"
ERR_IMPORT_YEAR = "名单年度应在{min}年到{max}年之间"
ERR_IMPORT_SUFFIX = "不支持的文件类型“{suffix}”，请上传 .csv 或 .xlsx 文件"
ERR_IMPORT_EMPTY = "上传的文件是空的"


def person_verify(*, person: Person, user: User, status: str, note: str = "", request: Any = None) -> Person:
    """核实核准 Confirm or reject a person's verification; writes the change history and the audit log.

    Only a county administrator or a township health centre may verify (inspectors are read-only).
    """
    role_require(user, VERIFY_ROLES, ERR_VERIFY_ROLE)
    if status not in (VerificationStatus.CONFIRMED, VerificationStatus.REJECTED):
        raise ValidationError({"status": ERR_VERIFY_STATUS})
    note = (note or "").strip()
    if len(note) > 300:
        raise ValidationError({"note": ERR_VERIFY_NOTE})
    today = timezone.localdate()
    changes = [
        ChangeLog(
            person=person,
            field=field,
            old_value=str(old),
            new_value=str(new),
            source=VERIFY_SOURCE,
            user=user,
        )
        for field, old, new in (
            ("verification_status", person.verification_status, status),
            ("verification_note", person.verification_note, note),
        )
        if old != new
    ]
    with transaction.atomic():
        Person.objects.filter(pk=person.pk).update(
            verification_status=status,
            verification_note=note,
            verified_on=today,
            verified_by=user,
            updated_at=timezone.now(),
        )
        ChangeLog.objects.bulk_create(changes)
        audit_record(
            user=user,
            action=AuditAction.CONFIRM,
            object_type="person",
            object_id=str(person.pk),
            detail=f"{VerificationStatus(status).label} {note}".strip(),
            region_code=person.village_id,
            request=request,
        )
    person.verification_status = status
    person.verification_note = note
    person.verified_on = today
    person.verified_by = user
    return person


def import_role_check(user: Any) -> None:
    """导入权限 Only the roles of ``IMPORT_ROLES`` (the county administrator) may start a web import."""
    role_require(user, IMPORT_ROLES, ERR_IMPORT_ROLE)


def import_upload_start(
    *,
    user: Any,
    upload: Any,
    kind: str,
    source: str,
    year: int | None,
    task: Any,
    request: Any = None,
    detail: str,
    fallback: str = "upload",
    mapping: str = "",
    dry_run: bool = False,
) -> ImportRun:
    """开始网页导入 Check the file, store it, record a queued ImportRun of ``kind``, audit it, enqueue ``task``.

    Shared by every web import (roster, enrolment, care, capacity, cards). The caller checks the
    role (``import_role_check``) and its own fields first; this checks the file type and that it is not
    empty (the size limit is enforced while the upload streams in, jkfp.web.uploads). ``detail`` is the
    audit text before the file name; the run belongs to the uploader's region. Without ``mapping`` the
    run takes the saved template of (``kind``, ``source``) in the uploader's region, if any.
    """
    import_role_check(user)
    if not mapping:  # the source's saved template applies by itself (issue 18 item 3)
        template = import_template_of(user=user, kind=kind, source=source)
        mapping = template.mapping if template is not None else ""
    name = Path(upload.name or "").name
    suffix = Path(name).suffix.lower()
    if suffix not in IMPORT_SUFFIXES:
        raise ValidationError({"file": ERR_IMPORT_SUFFIX.format(suffix=suffix or "无扩展名")})
    if not upload.size:
        raise ValidationError({"file": ERR_IMPORT_EMPTY})
    stored = store_upload(upload, name, fallback=fallback)
    run = ImportRun.objects.create(
        kind=kind,
        source=source,
        year=year,
        file_name=name[:255],
        stored_path=str(stored),
        status=ImportStatus.QUEUED,
        user=user,
        region=user.region,
        mapping=mapping,
        dry_run=dry_run,
    )
    audit_record(
        user=user,
        action=AuditAction.IMPORT,
        object_type="import_run",
        object_id=str(run.pk),
        detail=f"{detail} {name}"[:500],
        region_code=user.region_id or "",
        request=request,
    )
    task.enqueue(run_id=run.pk)
    run.refresh_from_db()
    return run


def _yearly_list_start(
    *,
    user: Any,
    upload: Any,
    kind: str,
    source: str,
    year: int,
    task: Any,
    request: Any,
    fallback: str,
    mapping: str = "",
    dry_run: bool = False,
) -> ImportRun:
    """年度名单导入 Role, source name and year checks of a yearly list upload, then ``import_upload_start``."""
    import_role_check(user)
    source = (source or "").strip()
    if not source or len(source) > 50:
        raise ValidationError({"source": ERR_IMPORT_SOURCE})
    today = timezone.localdate()
    if not list_year_ok(int(year), today):
        raise ValidationError({"year": ERR_IMPORT_YEAR.format(min=LIST_MIN_YEAR, max=list_max_year(today))})
    return import_upload_start(
        user=user,
        upload=upload,
        kind=kind,
        source=source,
        year=int(year),
        task=task,
        request=request,
        detail=f"{source} {year}",
        fallback=fallback,
        mapping=mapping,
        dry_run=dry_run,
    )


def import_run_start(
    *, user: User, upload: UploadedFile, source: str, year: int, request: Any = None, preview: bool = False
) -> ImportRun:
    """开始导入 Store an uploaded roster, record an ImportRun and queue the background import.

    The file size limit (settings.UPLOAD_MAX_BYTES) is enforced while the upload streams in
    (jkfp.web.uploads); this checks what is left: role, source name, year and file type.
    """
    return _yearly_list_start(
        user=user,
        upload=upload,
        kind=ImportKind.ROSTER,
        source=source,
        year=year,
        task=roster_import_task,
        request=request,
        fallback="roster",
        dry_run=preview,
    )


ERR_PREVIEW_STATE = "这次导入不在“待确认”状态"
MSG_CANCELLED = "已取消：预览后没有导入，数据没有写入"


def import_preview_confirm(*, user: Any, run: ImportRun, task: Any, request: Any = None) -> ImportRun:
    """确认导入 Run the previewed import for real (the same file, mapping and checks) with ``task``
    (the background task of the run's kind)."""
    import_role_check(user)
    if run.status != ImportStatus.PREVIEW:
        raise ValidationError(ERR_PREVIEW_STATE)
    ImportRun.objects.filter(pk=run.pk).update(
        status=ImportStatus.QUEUED, dry_run=False, summary={}, errors_file="", progress=0
    )
    audit_record(
        user=user,
        action=AuditAction.IMPORT,
        object_type="import_run",
        object_id=str(run.pk),
        detail=f"确认导入 {run.file_name}"[:500],
        region_code=user.region_id or "",
        request=request,
    )
    task.enqueue(run_id=run.pk)
    run.refresh_from_db()
    return run


def import_preview_cancel(*, user: Any, run: ImportRun) -> ImportRun:
    """取消 Drop a previewed import: nothing is written, the stored upload is deleted."""
    import_role_check(user)
    if run.status != ImportStatus.PREVIEW:
        raise ValidationError(ERR_PREVIEW_STATE)
    ImportRun.objects.filter(pk=run.pk).update(
        status=ImportStatus.FAILED, message=MSG_CANCELLED, finished_at=timezone.now()
    )
    import_source_delete(run=run)
    run.refresh_from_db()
    return run


# 导入模板与映射 Saved mappings per source and the web import's mapping step (issue 18 item 3).

ERR_MAPPING_STATE = "这次导入不在“待映射”状态"
ERR_MAPPING_TWICE = "列“{a}”和“{b}”都对应到字段“{field}”，一个字段只能对应一列"


def import_template_of(*, user: Any, kind: str, source: str) -> ImportTemplate | None:
    """本来源的模板 The saved mapping of ``source`` in the user's region (never another source's)."""
    return ImportTemplate.objects.filter(kind=kind, source=source, region_id=user.region_id).first()


def _mapping_checked(text: str, columns: dict[str, tuple[str, ...]]) -> str:
    """The TOML ``text`` when it is a usable mapping for an import of ``columns`` (canonical → headers);
    ValidationError naming the line otherwise."""
    try:
        header_lookup(columns, parse_mapping(text, origin="映射"))
    except MappingError as exc:
        raise ValidationError({"mapping": exc.zh}) from exc
    return text


@transaction.atomic
def import_template_save(
    *,
    user: Any,
    kind: str,
    source: str,
    mapping: str,
    columns: dict[str, tuple[str, ...]],
    request: Any = None,
) -> ImportTemplate:
    """保存模板 Save (create or replace) the mapping of ``source``; refused when it is not usable for an
    import of ``columns`` (the import's canonical name → headers)."""
    import_role_check(user)
    text = _mapping_checked(mapping, columns)
    template, _ = ImportTemplate.objects.update_or_create(
        kind=kind, source=source, region_id=user.region_id, defaults={"mapping": text, "updated_by": user}
    )
    audit_record(
        user=user,
        action=AuditAction.IMPORT,
        object_type="import_template",
        object_id=str(template.pk),
        detail=f"保存导入模板 {source}"[:500],
        region_code=user.region_id or "",
        request=request,
    )
    return template


def import_mapping_apply(
    *,
    user: Any,
    run: ImportRun,
    columns: dict[str, str],
    values: dict[str, dict[str, str]],
    fields: dict[str, tuple[str, ...]],
    task: Any,
    request: Any = None,
) -> ImportRun:
    """映射并导入 The mapping step's answer for a run waiting for it: ``columns`` file header → field
    (canonical name of ``fields``, the import's columns, or "" to ignore), ``values`` field → {file
    value: accepted value}. Saved as the source's template (merged into the one there is) and the
    import queued again with it (``task``, the background task of the run's kind)."""
    import_role_check(user)
    if run.status != ImportStatus.MAPPING:
        raise ValidationError(ERR_MAPPING_STATE)
    chosen: dict[str, str] = {}
    for header, field in columns.items():
        if field and field in chosen:
            raise ValidationError(ERR_MAPPING_TWICE.format(a=chosen[field], b=header, field=fields[field][0]))
        if field:
            chosen[field] = header
    old = import_template_of(user=user, kind=run.kind, source=run.source)
    mapping = parse_mapping(old.mapping) if old is not None else ImportMapping()
    own = header_lookup(fields, None)
    for header, field in columns.items():
        if field and own.get(normalise_header(header)) == field:
            mapping.columns.pop(header, None)  # the field's own header: nothing to map
            continue
        mapping.columns[header] = fields[field][0] if field else ""
    for field, table in values.items():
        label = fields[field][0]
        mapping.values.setdefault(label, {}).update({k: v for k, v in table.items() if v})
    template = import_template_save(
        user=user,
        kind=run.kind,
        source=run.source,
        mapping=mapping.to_toml(),
        columns=fields,
        request=request,
    )
    ImportRun.objects.filter(pk=run.pk).update(
        status=ImportStatus.QUEUED, mapping=template.mapping, summary={}, progress=0
    )
    task.enqueue(run_id=run.pk)
    run.refresh_from_db()
    return run


def enrolment_run_start(
    *, user: User, upload: UploadedFile, year: int, request: Any = None, preview: bool = False
) -> ImportRun:
    """开始导入参保名单 Store an uploaded enrolment list, record an ImportRun and queue its import.

    Same checks as the roster upload (role, year, file type, not empty). The year is the list's year
    (``--year`` of ``jkfp import-enrolment``: rows of another year are invalid). The import runs as
    the uploader, so persons outside the uploader's region are invalid rows.
    """
    return _yearly_list_start(
        user=user,
        upload=upload,
        kind=ImportKind.ENROLMENT,
        source=str(ImportKind.ENROLMENT.label),
        year=year,
        task=enrolment_import_task,
        request=request,
        fallback="enrolment",
        dry_run=preview,
    )

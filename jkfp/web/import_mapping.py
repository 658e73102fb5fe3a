"""导入映射 The web import's mapping step and the saved templates per source (issue 18 item 3).

A web upload (roster, enrolment, contracts, follow-ups, capacity lists, chronic-disease cards) whose
header lacks required columns, has columns nobody mapped or coded values not accepted waits (待映射)
for the county administrator to say, column by column (with sample values), which field each column
is (or 忽略), and which accepted value each unknown value means. The answer is saved as the source's
template, applied by itself to the next file of that source; templates are edited as TOML here and
downloaded as the ``--mapping`` file of the command line.

``IMPORT_SPECS`` is the one table of what each kind of web import reads: its columns, the accepted
values its mapping step offers per coded column, and the background task that runs it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_GET, require_POST

from jkfp.accounts.http import AuthedRequest
from jkfp.capacity import imports as capacity_imports
from jkfp.capacity.tasks import capacity_import_task
from jkfp.care.imports import CONTRACT_COLUMNS, FOLLOWUP_ACCEPTED, FOLLOWUP_COLUMNS
from jkfp.care.tasks import care_import_task
from jkfp.core.tabular_map import header_lookup, normalise_header, parse_mapping
from jkfp.registry import selectors
from jkfp.registry.enrolment import ENROLMENT_ACCEPTED, ENROLMENT_COLUMNS
from jkfp.registry.imports import ROSTER_ACCEPTED, ROSTER_COLUMNS
from jkfp.registry.models import ImportKind, ImportStatus, ImportTemplate
from jkfp.registry.services import (
    import_mapping_apply,
    import_preview_cancel,
    import_preview_confirm,
    import_template_save,
)
from jkfp.registry.tasks import enrolment_import_task, roster_import_task
from jkfp.settlement.bank_imports import BANK_COLUMNS, KIND_WORDS
from jkfp.settlement.card_imports import CARD_COLUMNS
from jkfp.settlement.tasks import bank_accounts_import_task, cards_import_task


@dataclass(frozen=True)
class ImportSpec:
    """网页导入 What one kind of web import reads and which task runs it."""

    columns: dict[str, tuple[str, ...]]  # canonical → headers (the first is the field's label)
    task: Any
    accepted: dict[str, tuple[str, ...]] = field(default_factory=dict)  # coded field → accepted values

    def label(self, name: str) -> str:
        spellings = self.columns.get(name, ())
        return spellings[0] if spellings else name

    def choices(self) -> list[tuple[str, str]]:
        return [("", "忽略（不导入）"), *((name, self.label(name)) for name in self.columns)]


IMPORT_SPECS: dict[str, ImportSpec] = {
    ImportKind.ROSTER: ImportSpec(ROSTER_COLUMNS, roster_import_task, ROSTER_ACCEPTED),
    ImportKind.ENROLMENT: ImportSpec(ENROLMENT_COLUMNS, enrolment_import_task, ENROLMENT_ACCEPTED),
    ImportKind.CONTRACTS: ImportSpec(CONTRACT_COLUMNS, care_import_task),
    ImportKind.FOLLOWUPS: ImportSpec(FOLLOWUP_COLUMNS, care_import_task, FOLLOWUP_ACCEPTED),
    ImportKind.STAFF: ImportSpec(
        capacity_imports.STAFF_COLUMNS, capacity_import_task, capacity_imports.STAFF_ACCEPTED
    ),
    ImportKind.SUPPORT: ImportSpec(capacity_imports.SUPPORT_COLUMNS, capacity_import_task),
    ImportKind.TELEMEDICINE: ImportSpec(capacity_imports.TELEMEDICINE_COLUMNS, capacity_import_task),
    ImportKind.TRAINING: ImportSpec(
        capacity_imports.TRAINING_COLUMNS, capacity_import_task, capacity_imports.TRAINING_ACCEPTED
    ),
    ImportKind.COVERAGE: ImportSpec(capacity_imports.COVERAGE_COLUMNS, capacity_import_task),
    ImportKind.CARDS: ImportSpec(CARD_COLUMNS, cards_import_task),
    ImportKind.BANK_ACCOUNTS: ImportSpec(
        BANK_COLUMNS,
        bank_accounts_import_task,
        {"kind": tuple(w for w in KIND_WORDS if w and not w.isascii())},
    ),
}


@csrf_protect
def import_mapping(request: AuthedRequest, pk: int) -> HttpResponse:
    """对应列和值 The mapping step of one web import waiting for it."""
    run = selectors.import_run_get(user=request.user, pk=pk)
    spec = IMPORT_SPECS.get(run.kind)
    if run.status != ImportStatus.MAPPING or spec is None:
        return redirect("web:import_detail", pk=run.pk)
    info: dict[str, Any] = run.summary.get("mapping", {})
    mapping = parse_mapping(run.mapping) if run.mapping else None
    lookup = header_lookup(spec.columns, mapping)
    columns = [
        {**column, "index": i, "field": lookup.get(normalise_header(column["header"]), "")}
        for i, column in enumerate(info.get("columns", []))
    ]
    values = [
        {
            "field": name,
            "label": spec.label(name),
            "items": [{"index": j, "value": value} for j, value in enumerate(found)],
            "accepted": spec.accepted.get(name, ()),
        }
        for name, found in info.get("unknown_values", {}).items()
        if name in spec.columns
    ]
    error = ""
    if request.method == "POST":
        chosen = {c["header"]: request.POST.get(f"col-{c['index']}", "") for c in columns}
        answers = {
            v["field"]: {
                item["value"]: request.POST.get(f"val-{v['field']}-{item['index']}", "")
                for item in v["items"]
            }
            for v in values
        }
        if any(f and f not in spec.columns for f in chosen.values()):
            error = "字段选择无效"
        else:
            try:
                import_mapping_apply(
                    user=request.user,
                    run=run,
                    columns=chosen,
                    values=answers,
                    fields=spec.columns,
                    task=spec.task,
                    request=request,
                )
            except ValidationError as exc:
                error = "；".join(exc.messages)
            else:
                return redirect("web:import_detail", pk=run.pk)
        for c in columns:
            c["field"] = chosen.get(c["header"], "")
    context = {
        "run": run,
        "info": info,
        "columns": columns,
        "values": values,
        "choices": spec.choices(),
        "missing": [spec.label(m) for m in info.get("missing", []) if m in spec.columns],
        "error": error,
    }
    return render(request, "web/imports/mapping.html", context, status=400 if error else 200)


@csrf_protect
def import_templates(request: AuthedRequest) -> HttpResponse:
    """导入模板 The saved mappings of the user's region: each editable as TOML and downloadable."""
    templates = list(ImportTemplate.objects.filter(region_id=request.user.region_id))
    errors: dict[int, str] = {}
    if request.method == "POST":
        template = next((t for t in templates if str(t.pk) == request.POST.get("template")), None)
        spec = IMPORT_SPECS.get(template.kind) if template is not None else None
        if template is not None and spec is not None:
            try:
                import_template_save(
                    user=request.user,
                    kind=template.kind,
                    source=template.source,
                    mapping=request.POST.get("mapping", ""),
                    columns=spec.columns,
                    request=request,
                )
            except ValidationError as exc:
                errors[template.pk] = "；".join(exc.messages)
                template.mapping = request.POST.get("mapping", "")
            else:
                return redirect("web:import_templates")
    rows = [{"template": t, "error": errors.get(t.pk, "")} for t in templates]
    return render(request, "web/imports/templates.html", {"rows": rows}, status=400 if errors else 200)


@require_GET
def import_template_download(request: AuthedRequest, pk: int) -> HttpResponse:
    """下载模板 One template as the TOML file of ``--mapping``."""
    template = ImportTemplate.objects.filter(region_id=request.user.region_id, pk=pk).first()
    if template is None:
        raise Http404("没有这个模板")
    response = HttpResponse(template.mapping, content_type="application/toml; charset=utf-8")
    response["Content-Disposition"] = f"attachment; filename=mapping-{template.pk}.toml"
    return response


@require_POST
@csrf_protect
def import_confirm(request: AuthedRequest, pk: int) -> HttpResponse:
    """确认导入 / 取消 The answer to a preview: POST ``action`` = confirm or cancel."""
    run = selectors.import_run_get(user=request.user, pk=pk)
    spec = IMPORT_SPECS.get(run.kind)
    try:
        if request.POST.get("action") == "cancel" or spec is None:
            import_preview_cancel(user=request.user, run=run)
        else:
            import_preview_confirm(user=request.user, run=run, task=spec.task, request=request)
    except ValidationError:
        pass  # already answered (a second click): the page shows the run as it is
    return redirect("web:import_detail", pk=run.pk)

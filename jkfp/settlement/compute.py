"""结算输入与结果换算 Gathering engine inputs from rows and turning engine results back into rows.

No queries here: callers fetch the rows, these helpers build ``jkfp.engine`` values (policies,
claims, year-to-date sums, categories) and convert the results (Decimal or int64 fen) into
field values. The arithmetic itself stays in the engine.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final, Protocol, TypeVar

from jkfp import engine
from jkfp.core.importing import has_control_chars
from jkfp.engine.claims import fen_to_decimal
from jkfp.regions.models import most_specific
from jkfp.registry.models import TagCode
from jkfp.settlement.models import YTD_AFTER_COLUMNS, YTD_BEFORE_COLUMNS, YTD_FIELDS, Policy

# Tag codes of the registry → the engine's category names (settlement.md §1). A person holding
# none of these settles as ``ordinary`` when the policy's ``category_precedence`` names it.
TAG_CATEGORIES: Final[Mapping[str, str]] = {
    TagCode.TEKUN: "tekun",
    TagCode.DIBAO: "dibao",
    TagCode.POOR: "poor",
    TagCode.MONITORED: "monitored",
}
DEFAULT_CATEGORY: Final = "ordinary"
CATEGORY_LABELS: Final[Mapping[str, str]] = {
    "tekun": "特困供养",
    "dibao": "低保",
    "poor": "建档立卡/脱贫",
    "monitored": "防返贫监测对象",
    "ordinary": "普通居民",
}

CLAIM_ID_MAX_LENGTH: Final = 64
ERR_CLAIM_ID: Final = "结算号不能为空，不超过64个字符，不能含控制字符"


def claim_id_valid(claim_id: str) -> bool:
    """结算号 A claim id (already stripped): 1 to 64 characters, no control character (the window, the
    services and the claim import; the API's wire format is narrower, ``api.schemas.CLAIM_ID_PATTERN``)."""
    return 0 < len(claim_id) <= CLAIM_ID_MAX_LENGTH and not has_control_chars(claim_id)


_CACHE: dict[tuple[int, str], engine.Policy] = {}


def engine_policy(policy: Policy) -> engine.Policy:
    """引擎政策 The parsed engine policy of a stored version, cached per (pk, sha256) in this process."""
    key = (policy.pk, policy.sha256)
    parsed = _CACHE.get(key)
    if parsed is None:
        parsed = engine.loads_policy(
            policy.source_text,
            fmt="json" if policy.source_format == "json" else "toml",
            source=policy.label,
        )
        _CACHE[key] = parsed
    return parsed


class PolicyVersion(Protocol):
    """What the policy-in-force rule reads of a stored version (a ``Policy`` row, or its facts)."""

    @property
    def pk(self) -> Any: ...
    @property
    def valid_from(self) -> date: ...
    @property
    def valid_to(self) -> date: ...
    @property
    def uploaded_at(self) -> datetime: ...
    @property
    def scope(self) -> str: ...


P = TypeVar("P", bound=PolicyVersion)


def policy_in_force_of(versions: Iterable[P], day: date, *, code: str) -> P | None:
    """当日政策 The rule of the policy in force on ``day`` for a person living in region ``code`` (a
    village, or any region code within the person's county; issue 21 item 3): among the versions
    whose validity contains the day, those of the most specific region containing ``code``
    (``regions.models.most_specific``: the county's before the city's before the province's before
    the whole deployment's), and of those the most recently uploaded (ties: the later row); for one
    name that is its highest version. None when no version covers the day there."""
    valid = [v for v in versions if v.valid_from <= day <= v.valid_to]
    best: P | None = None
    for version in most_specific(valid, code, _scope):
        if best is None or (version.uploaded_at, version.pk) > (best.uploaded_at, best.pk):
            best = version
    return best


def _scope(version: PolicyVersion) -> str:
    return version.scope


def category_for(policy: engine.Policy, tag_codes: Iterable[str]) -> str | None:
    """结算类别 The first of ``policy.category_precedence`` the person holds (``ordinary`` matches
    everyone); None when none matches or the match is not a category the policy defines."""
    held = {TAG_CATEGORIES[c] for c in tag_codes if c in TAG_CATEGORIES}
    defined = set(policy.category_names)
    for name in policy.category_precedence:
        if name in held or name == DEFAULT_CATEGORY:
            return name if name in defined else None
    return None


def tags_on(tags: Sequence[tuple[str, date, date | None]], day: date) -> list[str]:
    """当日类别 Codes of the dated tags ``(code, start_on, end_on)`` in force on ``day``."""
    return [code for code, start, end in tags if start <= day and (end is None or end >= day)]


def ytd_from_mapping(values: Mapping[str, Any]) -> engine.YearToDate:
    """Year-to-date from a JSON mapping (``ytd_before``) or ledger values; missing keys are 0."""
    return engine.YearToDate.of_stay_sums([Decimal(str(values.get(f, "0.00"))) for f in YTD_FIELDS])


def ytd_columns(ytd: engine.YearToDate, when: str) -> dict[str, int]:
    """The seven sums as the settlement's ``ytd_{when}_*_fen`` column values (``when``: before/after)."""
    columns = YTD_BEFORE_COLUMNS if when == "before" else YTD_AFTER_COLUMNS
    return dict(zip(columns, ytd.as_fen(), strict=True))


def ytd_of_fen(values: Sequence[int]) -> engine.YearToDate:
    """Year-to-date from seven fen integers in ``YTD_FIELDS`` order."""
    return engine.YearToDate.of_stay_sums([fen_to_decimal(int(v)) for v in values])


def outpatient_ytd_text(sums: engine.OutpatientSums) -> str:
    """门诊慢特病累计 §6's year-to-date (fen; ``YearToDate.outpatient_fen``'s shape) as the ledger's
    ``outpatient_ytd`` text: compact JSON ``{"d": deductible used, "b": basic, "by": {disease: basic}}``,
    "" when there is none (no outpatient claim in the year)."""
    if sums == engine.NO_OUTPATIENT_SUMS:
        return ""
    deductible_used, basic, by_disease = sums
    return json.dumps(
        {"d": deductible_used, "b": basic, "by": dict(by_disease)}, ensure_ascii=False, separators=(",", ":")
    )


def outpatient_ytd_sums(text: str) -> engine.OutpatientSums:
    """The ledger's ``outpatient_ytd`` text back as §6's sums in fen (``outpatient_ytd_text``)."""
    if not text:
        return engine.NO_OUTPATIENT_SUMS
    data = json.loads(text)
    return int(data["d"]), int(data["b"]), tuple(sorted((str(k), int(v)) for k, v in data["by"].items()))


ERR_NO_OUTPATIENT_BLOCK = "结算类别“{category}”在政策“{policy}”中没有门诊慢特病规定"
ERR_DISEASE_NOT_IN_POLICY = "病种“{disease}”不在政策“{policy}”的门诊慢特病病种中"


def outpatient_problem(
    policy: engine.Policy, label: str, category: str, disease: str
) -> tuple[str, str] | None:
    """门诊慢特病可结算 Why an outpatient claim (§6) of ``category`` for ``disease`` cannot be settled with
    ``policy`` (labelled ``label``): (field, message), or None. The category needs an ``outpatient``
    block and the disease must be in the policy's ``outpatient_diseases``."""
    if policy.category(category).outpatient is None:
        return "kind", ERR_NO_OUTPATIENT_BLOCK.format(category=category, policy=label)
    if disease not in policy.disease_names:
        return "disease", ERR_DISEASE_NOT_IN_POLICY.format(disease=disease, policy=label)
    return None


def request_hash(
    *,
    claim_id: str,
    id_number: str,
    institution_code: str,
    admitted_on: date,
    discharged_on: date,
    total_amount: Decimal,
    out_of_scope_amount: Decimal,
    referred: bool | None,
    basic_paid_amount: Decimal | None = None,
    critical_paid_amount: Decimal | None = None,
    disease: str = "",
) -> str:
    """请求摘要 SHA-256 of the canonical claim inputs: equal bodies give equal hashes (idempotency).
    The §7 paid amounts enter only when given, an outpatient claim's disease (§6) only for an
    outpatient claim (the hash of an ordinary stay is unchanged)."""
    flag = "" if referred is None else ("1" if referred else "0")
    parts = [
        claim_id,
        id_number,
        institution_code,
        admitted_on.isoformat(),
        discharged_on.isoformat(),
        f"{total_amount:.2f}",
        f"{out_of_scope_amount:.2f}",
        flag,
    ]
    if basic_paid_amount is not None or critical_paid_amount is not None:
        parts.append(f"paid:{basic_paid_amount or 0:.2f}/{critical_paid_amount or 0:.2f}")
    if disease:
        parts.append(f"outpatient:{disease}")
    text = "|".join(parts)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()

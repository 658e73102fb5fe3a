"""按区划的病种目录 The catalogue in force for a region on a day (issue 21 item 3): its one home.

The ``Disease`` rows (with their own 启用/停用 dates) are the whole deployment's catalogue. A
``CatalogueEntry`` of a province, city or county — or of the whole deployment — replaces, for that
region and everything below it, whether a disease is in the catalogue, from and to when, and a
chronic disease's yearly visits. For a code (a person's village or county, a user's region) the
entry of the most specific region containing it decides (``regions.models.most_specific``: the
county's over the city's over the province's over the deployment's); without one, the disease row
itself. The deciding setting is then valid on a day or not — a region's entry is never merged with
the dates of the one above it.

Every catalogue decision reads this module: the major diseases a case may be registered for
(treatment), the chronic diseases followed up and carded (care), the diseases an indicator counts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date

from django.db.models import Q

from jkfp.regions.models import Region, RegionLevel, containing_codes, most_specific, prefix_range
from jkfp.registry.models import CatalogueEntry, Disease

WHOLE_DEPLOYMENT = "全系统"


@dataclass(frozen=True)
class Setting:
    """目录设置 The setting of one disease that decides for a region: the region's entry (``scope`` its
    code prefix, "" the deployment's entry) or, when no entry contains the region, the disease row
    (``scope`` None)."""

    disease_id: int
    name: str
    kind: str
    included: bool
    valid_from: date | None
    valid_to: date | None
    visits_per_year: int
    scope: str | None
    region_code: str | None = None
    region_name: str = ""

    def valid_on(self, on: date) -> bool:
        """目录内 In the catalogue on ``on``: included, and ``on`` within its dates (empty = no bound)."""
        return (
            self.included
            and (self.valid_from is None or self.valid_from <= on)
            and (self.valid_to is None or on <= self.valid_to)
        )

    @property
    def source(self) -> str:
        """设置来源 Who decided: the region's name, 全系统 for a deployment entry, 病种目录 for the row."""
        if self.scope is None:
            return "病种目录"
        return self.region_name or WHOLE_DEPLOYMENT


_DiseaseRow = tuple[int, str, str, date | None, date | None, int]


def _disease_rows(kinds: Collection[str] | None, pks: Collection[int] | None) -> list[_DiseaseRow]:
    qs = Disease.objects.all()
    if kinds is not None:
        qs = qs.filter(kind__in=list(kinds))
    if pks is not None:
        qs = qs.filter(pk__in=list(pks))
    return list(qs.values_list("pk", "name", "kind", "valid_from", "valid_to", "visits_per_year"))


def _entries(codes: Iterable[str] | None, pks: Collection[int] | None) -> list[CatalogueEntry]:
    """The entries of the whole deployment and of the regions ``codes`` (None: every entry)."""
    qs = CatalogueEntry.objects.select_related("region")
    if codes is not None:
        qs = qs.filter(Q(region__isnull=True) | Q(region_id__in=list(codes)))
    if pks is not None:
        qs = qs.filter(disease_id__in=list(pks))
    return list(qs)


def _decide(code: str, rows: list[_DiseaseRow], entries: Iterable[CatalogueEntry]) -> dict[int, Setting]:
    by_disease: dict[int, list[CatalogueEntry]] = defaultdict(list)
    for entry in entries:
        by_disease[entry.disease_id].append(entry)
    out: dict[int, Setting] = {}
    for pk, name, kind, valid_from, valid_to, visits in rows:
        found = most_specific(by_disease.get(pk, ()), code, _scope)
        if not found:
            out[pk] = Setting(pk, name, kind, True, valid_from, valid_to, visits, None)
            continue
        e = found[0]
        out[pk] = Setting(
            pk,
            name,
            kind,
            e.included,
            e.valid_from,
            e.valid_to,
            visits if e.visits_per_year is None else e.visits_per_year,
            e.scope,
            e.region_id,
            e.region.name if e.region is not None else "",
        )
    return out


def _scope(entry: CatalogueEntry) -> str:
    return entry.scope


def catalogue_settings(
    code: str, *, kinds: Collection[str] | None = None, pks: Collection[int] | None = None
) -> dict[int, Setting]:
    """目录设置表 ``disease id → Setting`` deciding for the region ``code`` (a stored code of any level;
    "" = the whole deployment), over the diseases of ``kinds`` (and ``pks``) or all. Two queries."""
    rows = _disease_rows(kinds, pks)
    return _decide(code, rows, _entries(containing_codes(code), pks))


def catalogue_on(code: str, on: date, *, kinds: Collection[str] | None = None) -> set[int]:
    """目录 The disease ids in the catalogue of the region ``code`` on ``on`` (of ``kinds`` or all)."""
    return {pk for pk, s in catalogue_settings(code, kinds=kinds).items() if s.valid_on(on)}


def in_catalogue(disease_id: int, code: str, on: date) -> bool:
    """目录内 True when the disease is in the catalogue of the region ``code`` on ``on``."""
    setting = catalogue_settings(code, pks=[disease_id]).get(disease_id)
    return setting is not None and setting.valid_on(on)


def catalogue_q(on: date, *, village: str, disease: str, kinds: Collection[str] | None = None) -> Q:
    """目录条件 The SQL form: rows whose ``disease`` field (an id) is in the catalogue of the county
    of their ``village`` field (a village code) on ``on``.

    Counties whose catalogue on ``on`` differs from the deployment's get a branch of their own (a
    code range and their disease ids); every other row is judged by the deployment's catalogue. Three
    queries, whatever the number of counties."""
    rows = _disease_rows(kinds, None)
    entries = _entries(None, None)
    base = {pk for pk, s in _decide("", rows, entries).items() if s.valid_on(on)}
    scopes = {e.scope for e in entries if e.scope}
    differing: dict[frozenset[int], list[str]] = defaultdict(list)
    if scopes:
        for county in Region.objects.filter(level=RegionLevel.COUNTY).values_list("code", flat=True):
            if not any(county.startswith(s) for s in scopes):
                continue
            mine = frozenset(pk for pk, s in _decide(county, rows, entries).items() if s.valid_on(on))
            if mine != base:
                differing[mine].append(county)
    q = Q(**{f"{disease}__in": sorted(base)})
    elsewhere = Q()
    for ids, counties in differing.items():
        ranges = Q()
        for county in counties:
            lo, hi = prefix_range(county)
            ranges |= Q(**{f"{village}__gte": lo, f"{village}__lt": hi})
        q &= ~ranges
        elsewhere |= ranges & Q(**{f"{disease}__in": sorted(ids)})
    return q | elsewhere if differing else q


def disease_added_for(disease: Disease, region: Region) -> None:
    """新病种只入本区划目录 A disease a province, city or county administrator adds to the catalogue rows
    (a county's catalogue can be longer than the deployment's, domain.md §5) is in that region's
    catalogue only: an entry of the whole deployment leaves it out, one of the region takes it in (with
    the row's own dates). Another region takes it in with an entry of its own; a superuser opens it to
    every region by changing the deployment's entry. Call inside the transaction that saved ``disease``.
    """
    CatalogueEntry.objects.create(disease=disease, region=None, included=False)
    CatalogueEntry.objects.create(
        disease=disease,
        region=region,
        included=True,
        valid_from=disease.valid_from,
        valid_to=disease.valid_to,
    )

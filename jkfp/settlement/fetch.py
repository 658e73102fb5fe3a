"""取数 Settlement step 1 of 3: the facts a settlement needs, read from the database.

Fetch → engine → store (ADR 0004, ``docs/architecture.md``): this module reads; ``jkfp.engine``
computes every amount; ``settlement.store`` writes. The window, the API, ``settle-claims`` and
``resettle`` are compositions of the three, and this module has one entry, ``facts``:

- ``facts(claim)`` → ``ClaimFacts`` (one discharge, or a reversal): the person's ledger row of the
  year (created and locked), the claim, and the claims to settle with their policy and category
  (``engine_items``, ``start``: the input of ``engine.settle_in_order``). Two hand-written statements
  (``statements``: sent in one round trip, with the claim's ``INSERT`` by ``claim_submit``), the
  ORM for the person's chain when their year must be settled again in order.
- ``facts(year=…, statuses=…)`` → ``YearFacts`` (a whole year): every claim of the year with its
  current settlement as integer columns (PostgreSQL by binary ``COPY``, a cursor elsewhere) and
  the policy and category of each (``engine_input``: the input of ``engine.settle_year``).

Both choose what a claim is settled with by the same two rules, applied here in Python to facts
read from the database: ``compute.policy_in_force_of`` and ``compute.category_for``. The
hand-written statements of the hot path save ≈ 0.3–0.6 ms of ORM query building each; values are
adapted by the model fields themselves.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple, overload

import numpy as np
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, connection
from django.utils import timezone

from jkfp import engine
from jkfp.core import bulkdb
from jkfp.engine.claims import EPOCH_ORDINAL
from jkfp.regions.models import LEVEL_DIGITS, Region, county_of, prefix_range
from jkfp.registry.models import ChangeLog, Person, Tag
from jkfp.registry.selectors import VILLAGE_FIELD, village_change_sql, village_on_bound, villages_on
from jkfp.settlement.compute import (
    DEFAULT_CATEGORY,
    TAG_CATEGORIES,
    category_for,
    engine_policy,
    outpatient_problem,
    outpatient_ytd_sums,
    policy_in_force_of,
    tags_on,
)
from jkfp.settlement.models import (
    LEDGER_YTD_COLUMNS,
    YTD_FIELDS,
    Claim,
    ClaimKind,
    ClaimStatus,
    Policy,
    Settlement,
    YearLedger,
)
from jkfp.settlement.selectors import ERR_NO_CATEGORY, county_names, no_policy_message

AMOUNT_FIELDS = (
    engine.OUTPUT_FIELDS
)  # counted_total, hospital_absorbed, basic, critical, aid, supplementary, personal
PERSON_FIELDS = ["id", "id_number", "birth_date", "village_id"]
PERSON_SQL = f"SELECT id, id_number, birth_date, village_id FROM {Person._meta.db_table} WHERE id_number = %s"  # noqa: S608 (table name from the model)
# {change}: registry.selectors.village_change_sql, filled in per call.
PERSON_ON_SQL = f"SELECT p.id, p.id_number, p.birth_date, p.village_id, {{change}} FROM {Person._meta.db_table} p WHERE p.id_number = %s"  # noqa: S608 (names from the code)


# --------------------------------------------------------------------------- one discharge


class Item(NamedTuple):
    """A claim to settle with its policy and category, and its current row (None: the claim being
    settled has none yet)."""

    claim: Claim
    policy: Policy
    category: str
    current: Settlement | None


@dataclass(frozen=True, eq=False)
class ClaimFacts:
    """一笔结算的事实 What one discharge (or a reversal) is settled with, read under the lock of the
    person's ledger row of the year.

    ``items``: the claims to settle, in settlement order (discharge date, claim id), each with the
    policy in force on its discharge date and the person's category that day — only the claim itself
    when it is settled on top of the ledger; with the person's other settled claims of the year
    (their policy and category as currently settled) when a settled claim sorts after it, a claim
    is reversed, or the ledger row does not keep §6's outpatient sums (``in_order``: then the year is
    settled again from a zero year-to-date). ``items`` is empty when the re-read claim is not pending
    (nothing to settle)."""

    claim: Claim
    ledger: YearLedger
    items: list[Item]
    in_order: bool

    @property
    def start(self) -> engine.YearToDate:
        """The year-to-date the first item is settled on."""
        return engine.YearToDate() if self.in_order else ledger_ytd(self.ledger)

    def engine_items(self) -> list[tuple[engine.Policy, engine.Claim]]:
        """The engine's input: (policy, claim) of every item, in settlement order."""
        id_number = self.claim.person.id_number
        return [(engine_policy(i.policy), engine_claim(i.claim, i.category, id_number)) for i in self.items]


def statements(person_id: int, day: date) -> list[tuple[str, list[Any]]]:
    """The SQL of one discharge's facts (what ``facts`` runs): the ledger row of the year, created and
    locked, and the facts of the rules choosing what to settle with. ``claim_submit`` sends them in
    the round trip of its claim ``INSERT`` and hands their rows to ``facts``."""
    return [_ledger_sql(person_id, day.year), _inputs_sql(person_id, day)]


def _claim_facts(claim: Claim, fetched: Sequence[Sequence[Any]] | None, reversal: bool) -> ClaimFacts:
    if fetched is None:
        sql = statements(claim.person_id, claim.discharged_on)[: 1 if reversal else 2]
        fetched = [rows or [] for rows in bulkdb.execute_statements([(s, p, True) for s, p in sql])]
        claim = Claim.objects.select_related("person").get(pk=claim.pk)  # re-read under the lock
        if claim.status != (ClaimStatus.SETTLED if reversal else ClaimStatus.PENDING):
            return ClaimFacts(
                claim, _ledger_of(claim.person_id, claim.discharged_on.year, fetched[0][0]), [], True
            )
    ledger = _ledger_of(claim.person_id, claim.discharged_on.year, fetched[0][0])
    if reversal:
        chain = _year_chain(ledger, exclude=claim.pk)
        return ClaimFacts(claim, ledger, _in_order(chain, None), True)
    policy, category, later = _inputs_of(claim, fetched[1])
    new = Item(claim, policy, category, None)
    # On top of the ledger row (§2's sums and §6's outpatient ones: O(1) in the person's year) unless
    # a settled claim sorts after this one, or the row does not keep the outpatient sums (written
    # before they were kept): then the year is settled in order, which sets them.
    if not later and ledger.outpatient_ytd is not None:
        return ClaimFacts(claim, ledger, [new], False)
    return ClaimFacts(claim, ledger, _in_order(_year_chain(ledger, exclude=claim.pk), new), True)


def _in_order(chain: list[Settlement], new: Item | None) -> list[Item]:
    items = [Item(r.claim, r.policy, r.category, r) for r in chain]
    if new is not None:
        items.append(new)
    # Claim ids are unique per institution: a person's two claims with the same id on the same day
    # (two institutions) keep the order they were registered in (the bulk path's too: by key).
    items.sort(key=lambda item: (item.claim.discharged_on, item.claim.claim_id, item.claim.pk))
    return items


def person_by_id_number(id_number: str, on: date | None = None) -> Person | None:
    """The registered person with this (validated) ID number, any region, with the columns a
    settlement needs (ID number, birth date for the admission check, village for the audit row);
    the other fields load on access (deferred). One hand-written query. With ``on`` (the discharge
    date) it also reads the person's village on that day into ``village_on`` (in the same query: the
    county of an in-county claim, ``settlement.incounty``)."""
    sql = PERSON_SQL
    params: list[Any] = [id_number]
    if on is not None:
        change, change_params = village_change_sql("p.id")
        sql = PERSON_ON_SQL.format(change=change)
        params = [*change_params, village_on_bound(on), id_number]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchone()
    if found is None:
        return None
    pk, number, born, village = found[:4]
    person = Person.from_db(DEFAULT_DB_ALIAS, PERSON_FIELDS, (pk, number, as_date(born), village))
    if on is not None:
        setattr(person, "village_on", found[4] or village)  # noqa: B010 (an attribute Person does not declare)
    return person


def _year_chain(ledger: YearLedger, *, exclude: int) -> list[Settlement]:
    """The current settlements of the person's settled claims of the ledger's year (but claim
    ``exclude``), with their claims and policies. The ledger counts the year's settled claims (kept
    by every writer): none → no chain to read (a person's first claim of the year)."""
    if not ledger.claim_count:
        return []
    year = ledger.year
    return list(
        Settlement.objects.select_related("claim", "policy")
        .filter(
            is_current=True,
            claim__person_id=ledger.person_id,
            claim__status=ClaimStatus.SETTLED,
            claim__discharged_on__gte=date(year, 1, 1),
            claim__discharged_on__lte=date(year, 12, 31),
        )
        .exclude(claim_id=exclude)
    )


def as_date(value: Any) -> date:
    """A date column read with a raw cursor (SQLite returns ISO text)."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _as_datetime(value: Any) -> datetime:
    """A date-time column read with a raw cursor (SQLite returns ISO text, in UTC)."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


@dataclass(frozen=True)
class _PolicyFacts:
    """What the policy-in-force rule reads of a stored version, read with a raw cursor."""

    pk: int
    sha256: str
    version: int
    valid_from: date
    valid_to: date
    uploaded_at: datetime
    scope: str


def _ledger_sql(person_id: int, year: int) -> tuple[str, list[Any]]:
    """Get or create the person's ledger row of ``year`` and lock it until the transaction ends; its
    row: id, claim count, the seven year-to-date sums in fen, the outpatient sums' text (§6; NULL:
    not kept).

    One statement: ``INSERT … ON CONFLICT (person_id, year) DO UPDATE … RETURNING``. On PostgreSQL
    the conflict branch locks the existing row like ``SELECT … FOR UPDATE`` (waiting for a
    concurrent holder, then reading its committed sums), and a concurrent first insert of the same
    row is waited for by the unique index; SQLite serialises writers (``BEGIN IMMEDIATE``).
    """
    cols = ", ".join(LEDGER_YTD_COLUMNS)
    zeros = ", ".join("0" for _ in LEDGER_YTD_COLUMNS)
    # The sums come back as integer fen (exact on both databases: SQLite keeps a decimal as REAL).
    fen = ", ".join(f"CAST(ROUND({c} * 100) AS BIGINT)" for c in LEDGER_YTD_COLUMNS)
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    return (
        f"INSERT INTO {YearLedger._meta.db_table} (person_id, year, {cols}, claim_count, outpatient_ytd, updated_at) "  # noqa: S608 (table and column names from the models)
        f"VALUES (%s, %s, {zeros}, 0, '', %s) "
        "ON CONFLICT (person_id, year) DO UPDATE SET year = EXCLUDED.year "
        f"RETURNING id, claim_count, {fen}, outpatient_ytd",
        [person_id, year, now],
    )


def _ledger_of(person_id: int, year: int, got: Any) -> YearLedger:
    """The ledger row read back by ``_ledger_sql``."""
    ledger = YearLedger(
        id=got[0],
        person_id=person_id,
        year=year,
        claim_count=got[1],
        **{c: engine.fen_to_decimal(int(v)) for c, v in zip(LEDGER_YTD_COLUMNS, got[2:-1], strict=True)},
        outpatient_ytd=got[-1],
    )
    ledger._state.adding = False
    ledger._state.db = DEFAULT_DB_ALIAS
    return ledger


def ledger_ytd(ledger: YearLedger) -> engine.YearToDate:
    """The ledger row's year-to-date: §2's seven sums and §6's outpatient ones (zero when not kept:
    ``_claim_facts`` then settles the year in order instead)."""
    ytd = engine.YearToDate(**{f: getattr(ledger, f"{f}_ytd") for f in YTD_FIELDS})
    return ytd.with_outpatient_fen(outpatient_ytd_sums(ledger.outpatient_ytd or ""))


def engine_claim(claim: Claim, category: str, id_number: str) -> engine.Claim:
    return engine.Claim(
        claim_id=claim.claim_id,
        person_id=id_number,
        category=category,
        discharge_on=claim.discharged_on,
        level=int(claim.level),
        in_county=claim.in_county,
        referred=claim.referred,
        total_amount=claim.total_amount,
        out_of_scope_amount=claim.out_of_scope_amount,
        basic_paid_amount=claim.basic_paid_amount,
        critical_paid_amount=claim.critical_paid_amount,
        kind=engine.OUTPATIENT if claim.outpatient else engine.INPATIENT,
        disease=claim.disease,
    )


_POLICIES: dict[tuple[int, str, int], Policy] = {}


def stored_policy(pk: int, sha256: str, version: int) -> Policy:
    """The stored policy version, cached per (pk, sha256, version) in this process: its text never
    changes under the same digest (a used version is immutable; an unused one replaced in place
    gets a new digest)."""
    key = (pk, sha256, version)
    policy = _POLICIES.get(key)
    if policy is None:
        policy = Policy.objects.get(pk=pk)
        if (policy.sha256, policy.version) == (sha256, version):
            _POLICIES[key] = policy
    return policy


def _inputs_sql(person_id: int, day: date) -> tuple[str, list[Any]]:
    """The facts of the rules choosing what a discharge on ``day`` is settled with, in ONE statement
    (four sub-selects joined by ``UNION ALL``): every policy version (a few rows per region; the rule
    picking the one in force is ``policy_in_force_of``), the person's village on ``day`` (whose
    county's policy applies: the village on the discharge date, as the in-county rule's,
    ``registry.selectors.village_change_sql``), the person's category tags (``category_for``), and their settled claims of the
    year (whether one sorts after this claim)."""
    on = connection.ops.adapt_datefield_value(day)
    end = connection.ops.adapt_datefield_value(date(day.year, 12, 31))
    codes = list(TAG_CATEGORIES)
    change, change_params = village_change_sql("p.id")
    statement = (
        "SELECT 'p' AS kind, sha256 AS txt, valid_from AS d1, valid_to AS d2, id AS n1, version AS n2, "  # noqa: S608 (table and column names from the models)
        f"uploaded_at AS t1, scope AS s1 FROM {Policy._meta.db_table} "
        f"UNION ALL SELECT 'v', COALESCE({change}, p.village_id), NULL, NULL, NULL, NULL, NULL, NULL "
        f"FROM {Person._meta.db_table} p WHERE p.id = %s "
        f"UNION ALL SELECT 't', code, start_on, end_on, NULL, NULL, NULL, NULL FROM {Tag._meta.db_table} "
        f"WHERE person_id = %s AND code IN ({', '.join('%s' for _ in codes)}) "
        f"UNION ALL SELECT 'c', claim_id, discharged_on, NULL, id, NULL, NULL, NULL FROM {Claim._meta.db_table} "
        "WHERE person_id = %s AND status = %s AND discharged_on >= %s AND discharged_on <= %s"
    )
    params = [
        *change_params,
        village_on_bound(day),
        person_id,
        person_id,
        *codes,
        person_id,
        str(ClaimStatus.SETTLED),
        on,
        end,
    ]
    return statement, params


def _inputs_of(claim: Claim, rows: Sequence[Any]) -> tuple[Policy, str, bool]:
    """The policy in force on the discharge date in the person's county, the person's category that day, and whether a
    settled claim of the person's year sorts after this one (the order compared in Python: the
    engine's order is Python string order, whatever the collation), from ``_inputs_sql``'s rows."""
    day = claim.discharged_on
    key = (day, claim.claim_id)
    versions: list[_PolicyFacts] = []
    tags: list[tuple[str, date, date | None]] = []
    later = False
    village = ""
    for kind, text, d1, d2, n1, n2, t1, s1 in rows:
        if kind == "p":
            versions.append(
                _PolicyFacts(int(n1), str(text), int(n2), as_date(d1), as_date(d2), _as_datetime(t1), str(s1))
            )
        elif kind == "v":
            village = str(text)
        elif kind == "t":
            tags.append((str(text), as_date(d1), None if d2 is None else as_date(d2)))
        elif (as_date(d1), str(text)) >= key and n1 != claim.pk:
            # Equal: the same claim id at another institution that day; the pk decides (``_in_order``).
            # (The window inserts its claim as settled in the same round trip: not itself.)
            later = True
    found = policy_in_force_of(versions, day, code=village)
    if found is None:
        raise ValidationError({"discharged_on": no_policy_message(village, day)})
    policy = stored_policy(found.pk, found.sha256, found.version)
    category = category_for(engine_policy(policy), tags_on(tags, day))
    if category is None:
        raise ValidationError({"person": ERR_NO_CATEGORY.format(day=day.isoformat(), policy=policy.label)})
    return policy, category, later


# --------------------------------------------------------------------------- a whole year


@dataclass
class YearClaims:
    """One year's claims (pending and/or settled) by column, in database order."""

    pk: np.ndarray
    claim_id: list[str]
    person: np.ndarray
    day: np.ndarray  # days since 1970-01-01
    level: np.ndarray
    in_county: np.ndarray
    referred: np.ndarray
    total: np.ndarray  # fen
    oos: np.ndarray  # fen
    pending: np.ndarray
    cur_pk: np.ndarray  # 0: none
    cur_policy: np.ndarray  # 0: none
    cur_category: list[str]
    cur_amounts: np.ndarray  # (n, 7) fen; zeros when none
    basic_paid: np.ndarray  # fen; NOT_PAID (-1) unless settled elsewhere (§7)
    critical_paid: np.ndarray
    outpatient: np.ndarray  # §6: outpatient special chronic disease claims
    disease: list[str]  # an outpatient claim's disease ("" for a stay)

    def __len__(self) -> int:
        return len(self.claim_id)

    def take(self, rows: np.ndarray) -> YearClaims:
        ids = rows.tolist()
        return YearClaims(
            pk=self.pk[rows],
            claim_id=[self.claim_id[i] for i in ids],
            person=self.person[rows],
            day=self.day[rows],
            level=self.level[rows],
            in_county=self.in_county[rows],
            referred=self.referred[rows],
            total=self.total[rows],
            oos=self.oos[rows],
            pending=self.pending[rows],
            cur_pk=self.cur_pk[rows],
            cur_policy=self.cur_policy[rows],
            cur_category=[self.cur_category[i] for i in ids],
            cur_amounts=self.cur_amounts[rows],
            basic_paid=self.basic_paid[rows],
            critical_paid=self.critical_paid[rows],
            outpatient=self.outpatient[rows],
            disease=[self.disease[i] for i in ids],
        )


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _day_number(value: Any, cache: dict[Any, int]) -> int:
    day = cache.get(value)
    if day is None:
        parsed = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
        day = cache[value] = parsed.toordinal() - EPOCH_ORDINAL
    return day


COUNTY_DIGITS = LEVEL_DIGITS["county"]


def person_in(prefix: str | None, year: int) -> tuple[str, list[Any]]:
    """The condition keeping the claims of persons who may have lived under ``prefix`` (a region's
    scope prefix; None: every claim) in ``year``, with its parameters: those living there now and
    those whose village changed from there since the year began. A superset: ``lived_under`` then
    keeps the claims whose person lived there on the discharge date (``villages_on``), the county
    whose policy governs the stay — a person who moved after a stay stays the old county's.

    On PostgreSQL, for a county or narrower, the persons are one array (``= ANY(ARRAY(…))``): the
    claims are then read through their person index, a county's share of a province's claims, not
    the year's every claim filtered by a hashed list (issue 21: 0.09 s instead of 0.9 s for one
    county of 40 × 5,000). A city's or a province's persons are a large share: the semi-join."""
    if prefix is None:
        return "", []
    persons, changes = _q(Person._meta.db_table), _q(ChangeLog._meta.db_table)
    lo, hi = prefix_range(prefix)
    who = (
        f"SELECT id FROM {persons} WHERE village_id >= %s AND village_id < %s"  # noqa: S608
        f" UNION SELECT person_id FROM {changes} WHERE field = %s AND old_value >= %s AND old_value < %s"
        " AND at >= %s"
    )
    params = [lo, hi, VILLAGE_FIELD, lo, hi, village_on_bound(date(year, 1, 1))]
    if connection.vendor == "postgresql" and len(prefix) >= COUNTY_DIGITS:
        return f" AND c.person_id = ANY(ARRAY({who}))", params
    return f" AND c.person_id IN ({who})", params


def lived_under(claims: YearClaims, prefix: str | None) -> np.ndarray | None:
    """Which rows of ``claims`` (read with ``person_in``) have a person whose village on the discharge
    date lies under ``prefix`` (registry's ``villages_on``: two queries per 5,000 persons); None: every
    row (no prefix)."""
    if prefix is None:
        return None
    if not len(claims):
        return np.ones(0, dtype=np.bool_)
    pairs = list(zip(claims.person.tolist(), claims.day.tolist(), strict=True))
    on = {pair: (pair[0], date.fromordinal(pair[1] + EPOCH_ORDINAL)) for pair in set(pairs)}
    found = villages_on(list(on.values()))
    inside = {pair for pair, key in on.items() if found[key].startswith(prefix)}
    return np.fromiter((pair in inside for pair in pairs), dtype=np.bool_, count=len(pairs))


def _year_claims_cursor(*, year: int, statuses: Sequence[str], prefix: str | None = None) -> YearClaims:
    """A year's claims through a cursor (any database), in claim pk order."""
    c, s = Claim._meta.db_table, Settlement._meta.db_table
    fen = [f"CAST(ROUND(s.{_q(f)} * 100) AS BIGINT)" for f in AMOUNT_FIELDS]
    marks = ", ".join(["%s"] * len(statuses))
    sql = (
        "SELECT c.id, c.claim_id, c.person_id, c.discharged_on, c.level, c.in_county, c.referred, "  # noqa: S608
        "CAST(ROUND(c.total_amount * 100) AS BIGINT), CAST(ROUND(c.out_of_scope_amount * 100) AS BIGINT), "
        f"c.status, s.id, s.policy_id, s.category, {', '.join(fen)}, "
        "COALESCE(CAST(ROUND(c.basic_paid_amount * 100) AS BIGINT), -1), "
        "COALESCE(CAST(ROUND(c.critical_paid_amount * 100) AS BIGINT), -1), c.kind, c.disease "
        f"FROM {_q(c)} c LEFT JOIN {_q(s)} s ON s.claim_id = c.id AND s.is_current "
        f"WHERE c.discharged_on >= %s AND c.discharged_on <= %s AND c.status IN ({marks})"
    )
    in_region, region_params = person_in(prefix, year)
    # Claim pk order, as the COPY read: the engine's last tie key (one claim id at two institutions).
    sql += in_region + " ORDER BY c.id"
    params: list[Any] = [date(year, 1, 1), date(year, 12, 31), *statuses, *region_params]
    parts: list[YearClaims] = []
    cache: dict[Any, int] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while True:
            rows = cursor.fetchmany(100_000)
            if not rows:
                break
            parts.append(_columns(rows, cache))
            del rows
    if not parts:
        return _columns([], cache)
    if len(parts) == 1:
        return parts[0]
    columns: dict[str, Any] = {
        name: (
            [x for p in parts for x in getattr(p, name)]
            if isinstance(getattr(parts[0], name), list)
            else np.concatenate([getattr(p, name) for p in parts])
        )
        for name in YearClaims.__dataclass_fields__
    }
    return YearClaims(**columns)


def _category_names() -> list[str]:
    """Every category name a stored policy defines (the codes of the bulk read)."""
    names = {DEFAULT_CATEGORY, *TAG_CATEGORIES.values()}
    for policy in Policy.objects.all():
        names.update(engine_policy(policy).category_names)
    return sorted(names)


def _disease_names() -> list[str]:
    """Every outpatient disease name a stored policy lists (the codes of the bulk read)."""
    names: set[str] = set()
    for policy in Policy.objects.all():
        names.update(engine_policy(policy).disease_names)
    return sorted(names)


def _year_claims_copy(*, year: int, statuses: Sequence[str], prefix: str | None = None) -> YearClaims:
    """A year's claims on PostgreSQL: one binary ``COPY`` whose rows are chunks of the year as integer
    arrays (day numbers, flags, fen; about 16 rows for 1M claims, so no per-claim message or Python
    object) plus the chunk's claim ids as one text with their byte lengths; rows in claim pk order."""
    c, s = _q(Claim._meta.db_table), _q(Settlement._meta.db_table)
    cats = _category_names()
    # numeric(14, 2) × 100 is a whole number: the cast is exact
    fen = [f"COALESCE(CAST(s.{_q(f)} * 100 AS BIGINT), 0)" for f in AMOUNT_FIELDS]
    values = [
        "c.id",
        "c.person_id",
        "c.discharged_on - DATE '1970-01-01'",
        "c.level",
        "CAST(c.in_county AS INT)",
        "CAST(c.referred AS INT)",
        "CAST(c.total_amount * 100 AS BIGINT)",
        "CAST(c.out_of_scope_amount * 100 AS BIGINT)",
        "CAST(c.status = %s AS INT)",
        "COALESCE(s.id, 0)",
        "COALESCE(s.policy_id, 0)",
        # category as 1 + its index in ``cats``; 0 without a current row; -1: a name not in ``cats``
        "COALESCE(array_position(%s::text[], s.category::text), CASE WHEN s.id IS NULL THEN 0 ELSE -1 END)",
        *fen,
        "octet_length(c.claim_id)",
        "COALESCE(CAST(c.basic_paid_amount * 100 AS BIGINT), -1)",  # §7; -1: not settled elsewhere
        "COALESCE(CAST(c.critical_paid_amount * 100 AS BIGINT), -1)",
        "CAST(c.kind = %s AS INT)",  # §6
        # disease as 1 + its index in ``diseases``; 0: none (a stay); -1: a name not in ``diseases``
        "COALESCE(array_position(%s::text[], c.disease::text), CASE WHEN c.disease = '' THEN 0 ELSE -1 END)",
    ]
    arrays = ", ".join(f"array_agg(CAST({v} AS BIGINT))" for v in values)
    sql = (
        f"COPY (SELECT {arrays}, string_agg(c.claim_id, '') FROM {c} c "  # noqa: S608
        f"LEFT JOIN {s} s ON s.claim_id = c.id AND s.is_current "
        "WHERE c.discharged_on >= %s AND c.discharged_on <= %s AND c.status = ANY(%s)"
        f"{person_in(prefix, year)[0]} GROUP BY c.id / 65536) TO STDOUT (FORMAT BINARY)"
    )
    diseases = _disease_names()
    params = [
        ClaimStatus.PENDING,
        cats,
        ClaimKind.OUTPATIENT,
        diseases,
        date(year, 1, 1),
        date(year, 12, 31),
        list(statuses),
        *person_in(prefix, year)[1],
    ]
    with connection.cursor() as cursor:
        # The planner cannot estimate the chunk count and would sort the whole join for a group
        # aggregate (on disk beyond work_mem); a hash aggregate of ~16 chunks needs no sort. The
        # join's hash table and the chunks' arrays fit in memory with a larger work_mem.
        cursor.execute(
            "SELECT current_setting('enable_sort'), current_setting('work_mem'), "
            "set_config('enable_sort', 'off', true), set_config('work_mem', '256MB', true)"
        )
        (sort_setting, work_mem, _, _) = cursor.fetchone()
        try:
            data = bulkdb.copy_out(cursor, sql, params)
        finally:
            cursor.execute(
                "SELECT set_config('enable_sort', %s, true), set_config('work_mem', %s, true)",
                [sort_setting, work_mem],
            )
        m, blob = bulkdb.int64_arrays_from_copy(data, len(values))
        del data
        ends = np.cumsum(m[:, 19]).tolist()
        starts = [0, *ends[:-1]] if ends else []
        raw = [blob[a:b] for a, b in zip(starts, ends, strict=True)]
        by_pk = np.argsort(m[:, 0], kind="stable")
        m = m[by_pk]
        claim_ids = [raw[k].decode("utf-8") for k in by_pk.tolist()]
        code = m[:, 11]
        category = ["", *cats]
        cur_category = [category[k] for k in code.clip(0).tolist()]
        unknown = np.flatnonzero(code < 0)
        if len(unknown):
            pks = m[unknown, 9].tolist()
            cursor.execute(f"SELECT id, category FROM {s} WHERE id = ANY(%s)", [pks])  # noqa: S608
            names = dict(cursor.fetchall())
            for i, pk in zip(unknown.tolist(), pks, strict=True):
                cur_category[i] = names[pk]
        dcode = m[:, 23]
        disease_of = ["", *diseases]
        disease = [disease_of[k] for k in dcode.clip(0).tolist()]
        odd = np.flatnonzero(dcode < 0)
        if len(odd):
            pks = m[odd, 0].tolist()
            cursor.execute(f"SELECT id, disease FROM {c} WHERE id = ANY(%s)", [pks])  # noqa: S608
            found = dict(cursor.fetchall())
            for i, pk in zip(odd.tolist(), pks, strict=True):
                disease[i] = found[pk]
    return YearClaims(
        pk=m[:, 0].copy(),
        claim_id=claim_ids,
        person=m[:, 1].copy(),
        day=m[:, 2].copy(),
        level=m[:, 3].copy(),
        in_county=m[:, 4].astype(np.bool_),
        referred=m[:, 5].astype(np.bool_),
        total=m[:, 6].copy(),
        oos=m[:, 7].copy(),
        pending=m[:, 8].astype(np.bool_),
        cur_pk=m[:, 9].copy(),
        cur_policy=m[:, 10].copy(),
        cur_category=cur_category,
        cur_amounts=np.ascontiguousarray(m[:, 12:19]),
        basic_paid=m[:, 20].copy(),
        critical_paid=m[:, 21].copy(),
        outpatient=m[:, 22].astype(np.bool_),
        disease=disease,
    )


def _columns(rows: list[tuple[Any, ...]], cache: dict[Any, int]) -> YearClaims:
    n = len(rows)
    cols: list[Any] = list(zip(*rows, strict=True)) if n else [() for _ in range(24)]

    def ints(values: Iterable[Any]) -> np.ndarray:
        return np.fromiter((0 if v is None else int(v) for v in values), dtype=np.int64, count=n)

    amounts = np.zeros((n, 7), dtype=np.int64)
    for k in range(7):
        amounts[:, k] = ints(cols[13 + k])
    return YearClaims(
        pk=ints(cols[0]),
        claim_id=list(cols[1]),
        person=ints(cols[2]),
        day=np.fromiter((_day_number(v, cache) for v in cols[3]), dtype=np.int64, count=n),
        level=ints(cols[4]),
        in_county=np.fromiter((bool(v) for v in cols[5]), dtype=np.bool_, count=n),
        referred=np.fromiter((bool(v) for v in cols[6]), dtype=np.bool_, count=n),
        total=ints(cols[7]),
        oos=ints(cols[8]),
        pending=np.fromiter((v == ClaimStatus.PENDING for v in cols[9]), dtype=np.bool_, count=n),
        cur_pk=ints(cols[10]),
        cur_policy=ints(cols[11]),
        cur_category=[v or "" for v in cols[12]],
        cur_amounts=amounts,
        basic_paid=ints(cols[20]),
        critical_paid=ints(cols[21]),
        outpatient=np.fromiter((v == ClaimKind.OUTPATIENT for v in cols[22]), dtype=np.bool_, count=n),
        disease=[v or "" for v in cols[23]],
    )


class InForce:
    """现行政策表 The policy in force for (county, day) pairs of a year, resolved in bulk: every stored
    version read once; a person's village read only when some policy is bound to a region (a
    single-county deployment reads none); the rule (``policy_in_force_of``) applied once per distinct
    (set of policy regions containing the village, day) — a handful of pairs even for a province."""

    def __init__(self, pairs: Iterable[tuple[int, int]]) -> None:
        """``pairs``: (person, day number) of the claims to resolve; a person's county is that of
        their village on the day (``registry.selectors.villages_on``: the in-county rule's too)."""
        self.policies: dict[int, Policy] = {p.pk: p for p in Policy.objects.all()}
        self.scopes = sorted({p.scope for p in self.policies.values()})
        self.village: dict[tuple[int, int], str] = {}
        if self.scopes != [""]:
            on = {(p, d): (p, date.fromordinal(d + EPOCH_ORDINAL)) for p, d in set(pairs)}
            found = villages_on(list(on.values()))
            self.village = {pair: found[key] for pair, key in on.items()}
        self._chain: dict[str, tuple[str, ...]] = {}
        self._found: dict[tuple[tuple[str, ...], int], int] = {}
        self._names: dict[str, str] | None = None

    def code(self, person: int, day: int) -> str:
        """The person's village code on day number ``day`` ("" when no policy is bound to a region:
        not read)."""
        return self.village.get((person, day), "")

    def pk(self, person: int, day: int) -> int:
        """The policy (pk) in force for ``person`` on day number ``day``; 0 when none."""
        code = self.code(person, day)
        chain = self._chain.get(code)
        if chain is None:
            chain = self._chain[code] = tuple(s for s in self.scopes if code.startswith(s))
        key = (chain, day)
        found = self._found.get(key)
        if found is None:
            policy = policy_in_force_of(
                self.policies.values(), date.fromordinal(day + EPOCH_ORDINAL), code=code
            )
            found = self._found[key] = 0 if policy is None else policy.pk
        return found

    def problem(self, person: int, day: date) -> str:
        """The message of no policy in force (the county's name read once for all)."""
        if self._names is None:
            self._names = county_names({county_of(code) or code for code in self.village.values()})
        return no_policy_message(self.code(person, day.toordinal() - EPOCH_ORDINAL), day, self._names)


def rows_of_scope(claims: YearClaims, policy_name: str, *, within: str = "") -> np.ndarray | None:
    """区划内的行 Which rows of ``claims`` (a mask) have a policy in force (``InForce``: the person's county on the
    discharge date, that day) is a version of ``policy_name`` — what that policy governs
    (``resettle``) — and whose person's village lies within the region prefix ``within`` (a user's
    scope; "" = everywhere). None when every row qualifies without reading a person (every version
    the whole deployment's and no ``within``)."""
    scopes = set(Policy.objects.values_list("scope", flat=True))
    if scopes <= {""} and not within:
        return None
    persons, days = claims.person.tolist(), claims.day.tolist()
    keep = np.ones(len(persons), dtype=np.bool_)
    if not scopes <= {""}:
        in_force = InForce(zip(persons, days, strict=True))
        names = {pk: p.name for pk, p in in_force.policies.items()}
        keep &= np.fromiter(
            (names.get(in_force.pk(p, d)) == policy_name for p, d in zip(persons, days, strict=True)),
            dtype=np.bool_,
            count=len(persons),
        )
    if within:
        inside = [
            int(pk)
            for pk, code in person_values(np.unique(claims.person).tolist(), names=False)
            if str(code).startswith(within)
        ]
        keep &= np.isin(claims.person, np.array(inside, dtype=np.int64))
    return keep


def tags_by_person(persons: Iterable[int]) -> dict[int, list[tuple[str, date, date | None]]]:
    wanted = set(persons)
    out: dict[int, list[tuple[str, date, date | None]]] = defaultdict(list)
    qs = Tag.objects.filter(code__in=list(TAG_CATEGORIES)).values_list(
        "person_id", "code", "start_on", "end_on"
    )
    if len(wanted) < 5000:
        ids = sorted(wanted)
        for start in range(0, len(ids), 500):
            for pid, code, s, e in qs.filter(person_id__in=ids[start : start + 500]):
                out[pid].append((code, s, e))
    else:
        for pid, code, s, e in qs.iterator(chunk_size=20000):
            if pid in wanted:
                out[pid].append((code, s, e))
    return out


def person_values(ids: list[int], *, names: bool) -> list[tuple[Any, ...]]:
    """(id, village code) — or with ``names`` (id, ID number, name, village name) — of the persons
    ``ids``: on PostgreSQL one query with the ids as one array parameter (a year has hundreds of
    thousands of persons), elsewhere through the ORM in chunks."""
    if connection.vendor == "postgresql":
        person, region = _q(Person._meta.db_table), _q(Region._meta.db_table)
        sql = (
            f"SELECT p.id, p.id_number, p.name, r.name FROM {person} p "  # noqa: S608
            f"LEFT JOIN {region} r ON r.code = p.village_id WHERE p.id = ANY(%s)"
            if names
            else f"SELECT p.id, p.village_id FROM {person} p WHERE p.id = ANY(%s)"  # noqa: S608
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [ids])
            return list(cursor.fetchall())
    fields = ("id", "id_number", "name", "village__name") if names else ("id", "village_id")
    qs = Person.objects.values_list(*fields)
    return [
        row for start in range(0, len(ids), 20000) for row in qs.filter(pk__in=ids[start : start + 20000])
    ]


@dataclass(frozen=True, eq=False)
class YearFacts:
    """年度结算的事实 What the claims of a year are settled with: the claims by column (``claims``) and
    per row the policy (pk) and category — a pending claim's by the rules of one discharge (the policy
    in force on its discharge date, the person's category that day), a settled claim's as currently
    settled; ``ok`` False for a pending claim without a policy or category (its reason in
    ``problems``); the policies by pk."""

    year: int
    claims: YearClaims
    policy: np.ndarray
    category: list[str]
    ok: np.ndarray
    problems: list[tuple[str, str]]
    policies: dict[int, Policy]
    # Which rows lie in the region asked for (``facts(prefix=…)``: ``lived_under``); None: every row. The
    # others are claims elsewhere of persons who lived there in the year (``person_in``).
    inside: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.claims)

    def inside_mask(self) -> np.ndarray:
        """``inside`` as a mask of every row."""
        return np.ones(len(self.claims), dtype=np.bool_) if self.inside is None else self.inside

    def take(self, rows: np.ndarray) -> YearFacts:
        """The rows ``rows`` only."""
        return YearFacts(
            self.year,
            self.claims.take(rows),
            self.policy[rows],
            [self.category[i] for i in rows.tolist()],
            self.ok[rows],
            self.problems,
            self.policies,
            None if self.inside is None else self.inside[rows],
        )

    def under(self, policy: Policy, rows: np.ndarray | None = None) -> YearFacts:
        """The rows ``rows`` (a mask; None: every row) settled with ``policy``, the others with the
        policy they are settled with (categories kept): a re-settlement after a policy change."""
        mask = np.ones(len(self.claims), dtype=np.bool_) if rows is None else rows
        keys = np.where(mask, policy.pk, self.policy)
        policies = {pk: self.policies[pk] for pk in np.unique(keys[~mask]).tolist()}
        policies[policy.pk] = policy
        return YearFacts(self.year, self.claims, keys, self.category, self.ok, [], policies, self.inside)

    def engine_input(self) -> tuple[engine.YearTable, dict[int, engine.Policy]]:
        """The engine's input: the year's rows (row ``i`` with policy ``policy[i]`` and its category)
        and the parsed policies they name."""
        yc = self.claims
        elsewhere = bool((yc.basic_paid >= 0).any())  # any stay settled elsewhere (§7)
        outpatient = bool(yc.outpatient.any())  # any outpatient claim (§6)
        table = engine.YearTable(
            outpatient=yc.outpatient if outpatient else None,
            disease=yc.disease if outpatient else None,
            claim_id=yc.claim_id,
            person=yc.person,
            day=yc.day,
            level=yc.level,
            in_county=yc.in_county,
            referred=yc.referred,
            total=yc.total,
            out_of_scope=yc.oos,
            basic_paid=yc.basic_paid if elsewhere else None,
            critical_paid=yc.critical_paid if elsewhere else None,
            policy=self.policy,
            category=self.category,
        )
        parsed = {int(pk): engine_policy(self.policies[int(pk)]) for pk in np.unique(self.policy).tolist()}
        return table, parsed


def _year_facts(year: int, yc: YearClaims) -> YearFacts:
    """The policy and category of every row of ``yc`` (see ``YearFacts``)."""
    problems: list[tuple[str, str]] = []
    n = len(yc)
    policy_pk = yc.cur_policy.copy()
    category = list(yc.cur_category)
    ok = np.ones(n, dtype=np.bool_)
    pending_rows = np.flatnonzero(yc.pending).tolist()
    pending_persons = {int(yc.person[i]) for i in pending_rows}
    in_force = InForce((int(yc.person[i]), int(yc.day[i])) for i in pending_rows)
    policies = in_force.policies
    tags = tags_by_person(pending_persons)
    days = {d: date.fromordinal(d + EPOCH_ORDINAL) for d in np.unique(yc.day[yc.pending]).tolist()}
    # category_for depends only on the policy and the set of tags held: one call per such pair
    cat_of: dict[tuple[int, frozenset[str]], str | None] = {}
    no_tags: list[tuple[str, date, date | None]] = []
    day_list, person_list, outpatient_list = yc.day.tolist(), yc.person.tolist(), yc.outpatient.tolist()
    for i in pending_rows:
        pk = in_force.pk(person_list[i], day_list[i])
        day = days[day_list[i]]
        if pk == 0:
            ok[i] = False
            problems.append((yc.claim_id[i], in_force.problem(person_list[i], day)))
            continue
        key = (pk, frozenset(tags_on(tags.get(person_list[i], no_tags), day)))
        if key in cat_of:
            cat = cat_of[key]
        else:
            cat = cat_of[key] = category_for(engine_policy(policies[pk]), key[1])
        if cat is None:
            ok[i] = False
            problems.append(
                (yc.claim_id[i], ERR_NO_CATEGORY.format(day=day.isoformat(), policy=policies[pk].label))
            )
            continue
        if outpatient_list[i]:
            problem = outpatient_problem(engine_policy(policies[pk]), policies[pk].label, cat, yc.disease[i])
            if problem is not None:
                ok[i] = False
                problems.append((yc.claim_id[i], problem[1]))
                continue
        policy_pk[i] = pk
        category[i] = cat
    for pk in set(np.unique(policy_pk[~yc.pending]).tolist()) - set(policies):
        policies[pk] = Policy.objects.get(pk=pk)
    return YearFacts(year, yc, policy_pk, category, ok, problems, policies)


# --------------------------------------------------------------------------- the one entry


@overload
def facts(
    claim: Claim, *, fetched: Sequence[Sequence[Any]] | None = None, reversal: bool = False
) -> ClaimFacts: ...
@overload
def facts(
    *, year: int, statuses: Sequence[str], copy: bool | None = None, prefix: str | None = None
) -> YearFacts: ...
def facts(
    claim: Claim | None = None,
    *,
    fetched: Sequence[Sequence[Any]] | None = None,
    reversal: bool = False,
    year: int | None = None,
    statuses: Sequence[str] = (),
    copy: bool | None = None,
    prefix: str | None = None,
) -> ClaimFacts | YearFacts:
    """取数 The facts a settlement is computed from, with the same rules for one claim and a year
    (``compute.policy_in_force_of``, ``compute.category_for``, applied here in Python).

    - ``facts(claim)``: one discharge (the window, the API): the person's ledger row of the year
      created and locked, the claim re-read, what it is settled with (``ClaimFacts``). ``fetched``:
      the rows of ``statements`` already read by the caller (``claim_submit``, in its ``INSERT``'s
      round trip; the claim was just inserted). ``reversal``: the person's other settled claims of
      the year, to settle again in order without this one.
    - ``facts(year=…, statuses=…)``: every claim discharged in ``year`` with one of ``statuses``, with
      its current settlement as integer columns (PostgreSQL: one binary ``COPY`` read by numpy;
      elsewhere, or with ``copy=False``, a cursor) and what each is settled with (``YearFacts``);
      ``prefix``: every claim of the persons who may have lived under that region prefix in the year
      (``person_in``), those under it on the discharge date marked by ``YearFacts.inside``
      (``lived_under``) — a county's re-settlement keeps the others of its persons for their
      year-to-date (``bulk.year_resettle``).
    """
    if claim is not None:
        return _claim_facts(claim, fetched, reversal)
    assert year is not None
    use_copy = connection.vendor == "postgresql" if copy is None else copy
    read = _year_claims_copy if use_copy else _year_claims_cursor
    claims = read(year=year, statuses=statuses, prefix=prefix)
    return dataclasses.replace(_year_facts(year, claims), inside=lived_under(claims, prefix))

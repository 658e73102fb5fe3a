"""慢病卡与门诊慢特病 The chronic-disease cards (慢病卡) an outpatient claim needs (``settlement.md`` §6).

An outpatient special chronic disease claim names a disease of the policy's ``outpatient_diseases``;
the person needs a valid card (``care.ChronicCard``) for that disease on the visit date. The policy
names a disease as the catalogue does (name or alias, ``registry.selectors.disease_lookup``): this
module maps the names of every stored policy to catalogue diseases and checks a card.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ValidationError
from django.db import connection

from jkfp import engine
from jkfp.care.models import ChronicCard
from jkfp.care.selectors import card_valid, cards_by_person
from jkfp.registry.models import Disease
from jkfp.registry.selectors import disease_lookup, disease_lookup_of
from jkfp.settlement import fetch
from jkfp.settlement.compute import engine_policy
from jkfp.settlement.models import Policy

ERR_NO_CARD = "此人没有{day}有效的“{disease}”慢病卡，不能按门诊慢特病结算"
ERR_DISEASE_UNKNOWN = "病种“{value}”不是结算政策的门诊慢特病病种（{names}）"
ERR_DISEASE_NOT_IN_CATALOGUE = "病种“{value}”不在病种目录中"


def outpatient_disease_names() -> list[str]:
    """门诊慢特病病种 Every disease name of the ``outpatient_diseases`` of the stored policies, sorted."""
    return _names_of(engine_policy(policy) for policy in Policy.objects.all())


def _names_of(policies: Iterable[engine.Policy]) -> list[str]:
    names: set[str] = set()
    for policy in policies:
        names.update(d.name for d in policy.outpatient_diseases)
    return sorted(names)


def outpatient_diseases() -> dict[int, str]:
    """Catalogue disease id → the policies' name of it, over the stored policies' outpatient diseases
    (a name the catalogue does not know is left out: no card can be issued for it)."""
    return _wanted(outpatient_disease_names(), disease_lookup())


def _wanted(names: list[str], lookup: dict[str, int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for name in names:
        pk = lookup.get(name)
        if pk is not None:
            out.setdefault(pk, name)
    return out


def outpatient_disease_lookup() -> dict[str, str]:
    """Name or alias (as the catalogue knows it) → the policies' name, over the outpatient diseases."""
    wanted = outpatient_diseases()
    return _lookup_of(wanted, disease_lookup(pks=set(wanted)))


def _lookup_of(wanted: dict[int, str], lookup: dict[str, int]) -> dict[str, str]:
    return {text: wanted[pk] for text, pk in lookup.items() if pk in wanted} | {
        name: name for name in wanted.values()
    }


@dataclass(frozen=True)
class OutpatientFacts:
    """门诊慢特病事实 What an outpatient claim of one person is checked with, read in one statement
    (``outpatient_facts``): the outpatient diseases by name or alias (``outpatient_disease_lookup``)
    and the person's cards."""

    lookup: dict[str, str]  # name or alias → the policies' name
    disease_ids: dict[str, int]  # the policies' name → catalogue disease id
    cards: dict[int, tuple[date, date | None]]  # catalogue disease id → (certified on, valid to)

    def card_require(self, *, disease: str, on: date, field: str = "disease") -> None:
        """有效慢病卡 Raise ``ValidationError`` naming ``field`` unless the person holds a card for the
        policy's outpatient disease ``disease`` valid on ``on`` (``care.selectors.card_valid``)."""
        pk = self.disease_ids.get(disease)
        found = None if pk is None else self.cards.get(pk)
        if found is None or not card_valid(found[0], found[1], on):
            raise ValidationError({field: ERR_NO_CARD.format(day=on.isoformat(), disease=disease)})


def outpatient_facts(person_id: int) -> OutpatientFacts:
    """The facts of one outpatient claim in ONE statement (three sub-selects joined by ``UNION ALL``,
    as ``fetch`` reads a discharge's): the stored policy versions (parsed ones cached per digest),
    the disease catalogue and the person's cards — instead of five queries on the window's and the
    API's hot path."""
    quote = connection.ops.quote_name
    policies, diseases = quote(Policy._meta.db_table), quote(Disease._meta.db_table)
    cards_table = quote(ChronicCard._meta.db_table)
    sql = (
        "SELECT 'p' AS kind, sha256 AS t1, CAST(NULL AS TEXT) AS t2, id AS n1, version AS n2, "  # noqa: S608 (table names from the models)
        "CAST(NULL AS DATE) AS d1, CAST(NULL AS DATE) AS d2 "
        f"FROM {policies} "
        f"UNION ALL SELECT 'd', name, aliases, id, NULL, NULL, NULL FROM {diseases} "
        f"UNION ALL SELECT 'c', NULL, NULL, disease_id, NULL, certified_on, valid_to FROM {cards_table} "
        "WHERE person_id = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [person_id])
        rows = cursor.fetchall()
    parsed: list[engine.Policy] = []
    catalogue: list[tuple[int, str, str]] = []
    cards: dict[int, tuple[date, date | None]] = {}
    for kind, t1, t2, n1, n2, d1, d2 in rows:
        if kind == "p":
            parsed.append(engine_policy(fetch.stored_policy(int(n1), str(t1), int(n2))))
        elif kind == "d":
            catalogue.append((int(n1), str(t1), str(t2 or "")))
        else:
            cards[int(n1)] = (fetch.as_date(d1), None if d2 is None else fetch.as_date(d2))
    wanted = _wanted(_names_of(parsed), disease_lookup_of(catalogue))
    lookup = _lookup_of(wanted, disease_lookup_of([r for r in catalogue if r[0] in wanted]))
    return OutpatientFacts(lookup, {name: pk for pk, name in wanted.items()}, cards)


def card_checker(person_ids: list[int]) -> Callable[[int, str, date], bool]:
    """有效慢病卡（批量） A check ``(person id, policy disease name, day) → holds a valid card`` over the
    cards of ``person_ids`` read at once (an import's rows)."""
    cards = cards_by_person(sorted(set(person_ids)))
    lookup = disease_lookup()

    def holds(person_id: int, disease: str, on: date) -> bool:
        pk = lookup.get(disease)
        found = None if pk is None else cards.get((person_id, pk))
        return found is not None and card_valid(found[0], found[1], on)

    return holds

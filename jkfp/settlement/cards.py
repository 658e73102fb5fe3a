"""慢病卡与门诊慢特病 The chronic-disease cards (慢病卡) an outpatient claim needs (``settlement.md`` §6).

An outpatient special chronic disease claim names a disease of the policy's ``outpatient_diseases``;
the person needs a valid card (``care.ChronicCard``) for that disease on the visit date. The policy
names a disease as the catalogue does (name or alias, ``registry.selectors.disease_lookup``): this
module maps the names of every stored policy to catalogue diseases and checks a card.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from django.core.exceptions import ValidationError

from jkfp.care.selectors import card_valid, card_valid_on, cards_by_person
from jkfp.registry.selectors import disease_lookup
from jkfp.settlement.compute import engine_policy
from jkfp.settlement.models import Policy

ERR_NO_CARD = "此人没有{day}有效的“{disease}”慢病卡，不能按门诊慢特病结算"
ERR_DISEASE_UNKNOWN = "病种“{value}”不是结算政策的门诊慢特病病种（{names}）"
ERR_DISEASE_NOT_IN_CATALOGUE = "病种“{value}”不在病种目录中"


def outpatient_disease_names() -> list[str]:
    """门诊慢特病病种 Every disease name of the ``outpatient_diseases`` of the stored policies, sorted."""
    names: set[str] = set()
    for policy in Policy.objects.all():
        names.update(d.name for d in engine_policy(policy).outpatient_diseases)
    return sorted(names)


def outpatient_diseases() -> dict[int, str]:
    """Catalogue disease id → the policies' name of it, over the stored policies' outpatient diseases
    (a name the catalogue does not know is left out: no card can be issued for it)."""
    lookup = disease_lookup()
    out: dict[int, str] = {}
    for name in outpatient_disease_names():
        pk = lookup.get(name)
        if pk is not None:
            out.setdefault(pk, name)
    return out


def outpatient_disease_lookup() -> dict[str, str]:
    """Name or alias (as the catalogue knows it) → the policies' name, over the outpatient diseases."""
    wanted = outpatient_diseases()
    return {text: wanted[pk] for text, pk in disease_lookup(pks=set(wanted)).items()} | {
        name: name for name in wanted.values()
    }


def card_require(*, person_id: int, disease: str, on: date, field: str = "disease") -> None:
    """有效慢病卡 Raise ``ValidationError`` naming ``field`` unless the person holds a card for the
    policy's outpatient disease ``disease`` valid on ``on``."""
    pk = disease_lookup().get(disease)
    if pk is None or card_valid_on(person_id=person_id, disease_id=pk, on=on) is None:
        raise ValidationError({field: ERR_NO_CARD.format(day=on.isoformat(), disease=disease)})


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

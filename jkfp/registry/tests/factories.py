"""Test data shared by every app's tests: a person of the registry (one home for the tests' persons)."""

from __future__ import annotations

from datetime import date
from typing import Any

from jkfp.core.idnumber import make_id_number


def make_person(
    village: Any,
    name: str,
    serial: int,
    *,
    born: date = date(1970, 1, 1),
    region6: str | None = None,
    **extra: Any,
) -> Any:
    """人员 A person of ``village`` with a valid ID number (issued by ``region6``, default the village's
    county: ``village.code[:6]``; ``serial`` makes it unique), the sex its ID number says, and any other
    field of ``Person`` in ``extra``."""
    from jkfp.registry.models import Person

    id_number = make_id_number(region6 or village.code[:6], born, serial)
    return Person.objects.create(
        id_number=id_number,
        name=name,
        sex="M" if int(id_number[16]) % 2 else "F",
        birth_date=born,
        village=village,
        **extra,
    )

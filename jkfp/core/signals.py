"""数据变更信号 One signal that says "records of this kind changed for these years (and persons)".

Lower layers (registry, treatment, settlement, care, monitoring) send it; higher layers subscribe in their
``AppConfig.ready`` (indicators queue a snapshot refresh, care schedules new conditions). This keeps the
import-linter layers intact: a sender never imports its receivers.

The signal is sent when the surrounding transaction commits (``transaction.on_commit``), so a rolled-back
import or settlement announces nothing. Receivers must be cheap: they only enqueue background tasks.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.dispatch import Signal

KINDS = frozenset({"roster", "settlement", "care", "treatment", "alerts", "enrolment", "capacity"})

# kwargs: kind: str, years: list[int], person_ids: list[int] | None
data_changed = Signal()


def send_data_changed(*, kind: str, years: Iterable[int], person_ids: Iterable[int] | None = None) -> None:
    """Announce a change of ``kind`` in ``years`` once the current transaction commits (at once outside one)."""
    if kind not in KINDS:
        raise ValueError(f"unknown data kind {kind!r}")
    year_list = sorted({int(y) for y in years})
    ids = None if person_ids is None else sorted({int(p) for p in person_ids})
    if not year_list:
        return

    def _send() -> None:
        data_changed.send(sender=kind, kind=kind, years=year_list, person_ids=ids)

    transaction.on_commit(_send)

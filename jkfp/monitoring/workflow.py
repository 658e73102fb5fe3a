"""监测流程 The monitoring case workflow as data: which step leads where, and who may take it (domain.md §8).

``alerted → assigned → verified → not_at_risk | already_monitored | proposed → identified →
assisted → risk_eliminated``. ``not_at_risk``, ``already_monitored`` and ``risk_eliminated`` end a
case. The roles follow domain.md §2: the township health centre (and the county) assign and
decide; the village doctor may record the home visit; only the county records the county's
decision (``identified``), which is taken in the national monitoring system.
"""

from __future__ import annotations

from dataclasses import dataclass

from jkfp.accounts.models import Role
from jkfp.monitoring.models import CaseStatus

S = CaseStatus


@dataclass(frozen=True)
class Transition:
    """流程步骤 One allowed step."""

    source: str
    target: str
    roles: frozenset[str]
    action: str  # the button's label


_LOCAL = frozenset({Role.COUNTY_ADMIN, Role.TOWNSHIP})
_VISIT = frozenset({Role.COUNTY_ADMIN, Role.TOWNSHIP, Role.VILLAGE_DOCTOR})
_COUNTY = frozenset({Role.COUNTY_ADMIN})

TRANSITIONS: tuple[Transition, ...] = (
    Transition(S.ALERTED, S.ASSIGNED, _LOCAL, "分派核实"),
    Transition(S.ASSIGNED, S.VERIFIED, _VISIT, "登记入户核实"),
    Transition(S.VERIFIED, S.NOT_AT_RISK, _LOCAL, "核实无风险"),
    Transition(S.VERIFIED, S.ALREADY_MONITORED, _LOCAL, "已是监测对象"),
    Transition(S.VERIFIED, S.PROPOSED, _LOCAL, "提请认定"),
    Transition(S.PROPOSED, S.IDENTIFIED, _COUNTY, "登记认定结果"),
    Transition(S.IDENTIFIED, S.ASSISTED, _LOCAL, "登记落实帮扶"),
    Transition(S.ASSISTED, S.RISK_ELIMINATED, _LOCAL, "登记风险消除"),
)
BY_PAIR: dict[tuple[str, str], Transition] = {(t.source, t.target): t for t in TRANSITIONS}
CLOSED = frozenset({S.NOT_AT_RISK, S.ALREADY_MONITORED, S.RISK_ELIMINATED})
# Before the home visit: a new alert of the same person and year joins such a case.
BEFORE_VISIT = frozenset({S.ALERTED, S.ASSIGNED})
# The order of the states for timelines and overview columns.
ORDER: tuple[str, ...] = tuple(CaseStatus.values)


def next_steps(status: str) -> list[Transition]:
    """可办理步骤 The steps that may follow ``status`` (empty for a closed case)."""
    return [t for t in TRANSITIONS if t.source == status]


def label(status: str) -> str:
    return str(CaseStatus(status).label)

"""Scoping of settlement reads (hospital window: own institution; regions: persons of the region),
the settlement list filters, clearing totals."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from jkfp.settlement import selectors, services
from jkfp.settlement.clearing import clearing_statement, clearing_totals
from jkfp.settlement.models import Claim
from jkfp.settlement.tests.factories import SettleWorld, submit


@pytest.fixture
def settled(sw: SettleWorld) -> SettleWorld:
    submit(sw, "E1", "poor1", "county2", date(2020, 3, 1), "20000.00", "1000.00")  # 第1镇1村, H001
    submit(sw, "E2", "poor1", "out3", date(2020, 6, 1), "150000.00", "12000.00", referred=True)  # H900
    submit(sw, "E3", "poor2", "clinic1", date(2020, 5, 10), "8000.00", "800.00")  # 第1镇2村, H002
    submit(sw, "E4", "plain", "county2", date(2020, 7, 1), "20000.00", "1000.00")  # 第2镇1村, H001
    submit(sw, "E5", "plain", "county2", date(2020, 3, 15), "1000.00", "0.00")  # 第2镇1村, H001
    return sw


def ids(qs: object) -> set[str]:
    return {s.claim.claim_id for s in qs}  # type: ignore[attr-defined]


def test_list_scope_per_role(settled: SettleWorld) -> None:
    u = settled.users
    assert ids(selectors.settlement_list(user=u["admin"])) == {"E1", "E2", "E3", "E4", "E5"}
    assert ids(selectors.settlement_list(user=u["fund"])) == {"E1", "E2", "E3", "E4", "E5"}
    assert ids(selectors.settlement_list(user=u["t1"])) == {"E1", "E2", "E3"}
    assert ids(selectors.settlement_list(user=u["t2"])) == {"E4", "E5"}
    assert ids(selectors.settlement_list(user=u["hosp"])) == {"E1", "E4", "E5"}
    assert ids(selectors.settlement_list(user=u["clinic"])) == {"E3"}
    assert ids(selectors.settlement_list(user=u["admin"], month="2020-03")) == {"E1", "E5"}
    assert ids(
        selectors.settlement_list(user=u["admin"], date_from=date(2020, 3, 2), date_to=date(2020, 6, 1))
    ) == {"E5", "E3", "E2"}
    assert ids(selectors.settlement_list(user=u["admin"], region="421321001002")) == {"E3"}
    assert ids(selectors.settlement_list(user=u["t2"], region="421321001000")) == set()
    assert ids(selectors.settlement_list(user=u["admin"], institution="H900")) == {"E2"}
    assert ids(selectors.settlement_list(user=u["admin"], category="ordinary")) == {"E4", "E5"}
    assert ids(selectors.settlement_list(user=u["admin"], query="张三")) == {"E1", "E2"}


def test_list_has_no_n_plus_one(settled: SettleWorld) -> None:
    with CaptureQueriesContext(connection) as ctx:
        rows = list(selectors.settlement_list(user=settled.users["admin"]))
        for s in rows:
            _ = (s.claim.person.village.name, s.claim.institution.name, s.policy.label)
    assert len(ctx.captured_queries) == 1


def test_detail_outside_scope_is_404(settled: SettleWorld) -> None:
    u = settled.users
    pk = {c.claim_id: c.pk for c in Claim.objects.all()}
    assert selectors.claim_get(user=u["t1"], pk=pk["E1"]).person.name == "张三"
    nope = max(pk.values()) + 1
    for user, key in ((u["t2"], pk["E1"]), (u["clinic"], pk["E1"]), (u["hosp"], pk["E2"]), (u["t1"], nope)):
        with pytest.raises(Http404):
            selectors.claim_get(user=user, pk=key)
    with pytest.raises(Http404):
        selectors.claim_by_institution(institution_code="H002", claim_id="E1")
    assert selectors.claim_by_institution(institution_code="H001", claim_id="E1").claim_id == "E1"


def test_reversed_claims_list_and_history(settled: SettleWorld) -> None:
    claim = Claim.objects.get(claim_id="E1")
    services.claim_reverse(claim=claim, reason="测试")
    assert ids(selectors.settlement_list(user=settled.users["admin"], status="reversed")) == {"E1"}
    assert "E1" not in ids(selectors.settlement_list(user=settled.users["admin"]))
    assert selectors.settlement_current(claim=claim) is None
    last = selectors.settlement_last(claim=claim)
    assert last is not None and last.personal == Decimal("2000.00")
    assert len(selectors.settlement_history(claim=Claim.objects.get(claim_id="E2"))) == 2


def test_clearing_totals(settled: SettleWorld) -> None:
    rows = clearing_statement(month="2020-03")
    assert [(r.institution_code, r.claims) for r in rows] == [("H001", 2)]
    h001 = rows[0]
    # E1 (settlement.md §5 example 1) and E5 (ordinary, level 2: (1000 − 500) × 70 % = 350.00).
    assert h001.basic == Decimal("14800.00") + Decimal("350.00")
    assert (h001.aid, h001.supplementary) == (Decimal("2940.00"), Decimal("260.00"))
    assert h001.funds_total == h001.basic + h001.critical + h001.aid + h001.supplementary
    june = clearing_statement(month="2020-06")
    assert [(r.institution_code, r.basic, r.critical, r.aid, r.supplementary) for r in june] == [
        ("H900", Decimal("95900.00"), Decimal("27660.00"), Decimal("10108.00"), Decimal("13332.00"))
    ]
    # Scope: the clinic sees only its own claims; township 2 only its persons' claims.
    assert clearing_statement(month="2020-03", user=settled.users["clinic"]) == []
    t2 = clearing_statement(month="2020-03", user=settled.users["t2"])
    assert [(r.institution_code, r.claims) for r in t2] == [("H001", 1)]
    assert clearing_totals(rows)["claims"] == 2
    with pytest.raises(ValueError):  # noqa: PT011 (the exception is asserted by the lines after it)
        clearing_statement(month="2020-13")

"""门诊慢特病结算页 The window's one-screen outpatient form: settled at once with the slip (its layers and
the person's share), refused with 422 naming the field without a valid card; the slip PDF; the API's
422 naming ``disease``."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from jkfp.accounts.models import AuditAction, AuditEvent
from jkfp.accounts.services import institution_token_create
from jkfp.care.models import ChronicCard
from jkfp.registry.models import Disease
from jkfp.registry.services import disease_catalogue_load
from jkfp.settlement.models import Claim
from jkfp.settlement.tests.factories import SettleWorld
from jkfp.web.settlement.slip import slip_layout_text
from jkfp.web.settlement.views import _slip_context

pytestmark = pytest.mark.django_db


@pytest.fixture
def ow(sw: SettleWorld) -> SettleWorld:
    disease_catalogue_load()
    ChronicCard.objects.create(
        person=sw.persons["poor1"], disease=Disease.objects.get(name="高血压"), certified_on=date(2019, 1, 1)
    )
    return sw


def visit(client: Client, sw: SettleWorld, **changes: Any) -> Any:
    data = {
        "id_number": sw.persons["poor1"].id_number,
        "disease": "高血压",
        "visited_on": "2020-04-01",
        "claim_id": "MZ-E5",
        "total_amount": "500.00",
        "out_of_scope_amount": "20.00",
    } | changes
    return client.post(reverse("settlement:outpatient"), data)


def test_one_screen_settles_and_the_slip_shows_layers_and_share(ow: SettleWorld, login: Any, rf: Any) -> None:
    client = login(ow.users["clinic"])  # H002: level 1 in county (settlement.md §8 example 5)
    page = client.get(reverse("settlement:outpatient"))
    assert page.status_code == 200 and "门诊慢特病结算" in page.content.decode()
    assert "门诊慢特病结算（持慢病卡" in client.get(reverse("settlement:window")).content.decode()
    response = visit(client, ow)
    assert response.status_code == 302 and response["Location"] == reverse(
        "settlement:slip", args=[Claim.objects.get(claim_id="MZ-E5").pk]
    )
    slip = client.get(response["Location"]).content.decode()
    assert "门诊慢特病费用一站式结算单" in slip and "门诊慢特病（高血压）" in slip and "就诊日期" in slip
    for text in ("384.00", "48.00", "11.25", "49.25", "492.50", "个人负担比例", "10.00%"):
        assert text in slip, text
    assert "大病保险</td>" not in slip  # no critical illness layer on an outpatient claim
    assert AuditEvent.objects.filter(action=AuditAction.SETTLE, object_id="MZ-E5").count() == 1
    listing = client.get(reverse("settlement:list")).content.decode()
    assert 'MZ-E5</a> <span class="badge text-bg-info" title="门诊慢特病：高血压">门诊</span>' in listing
    request = rf.get("/")
    request.user = ow.users["clinic"]
    texts = "".join(slip_layout_text(_slip_context(request, Claim.objects.get(claim_id="MZ-E5").pk)))
    assert "门诊慢特病费用一站式结算单" in texts and "个人负担比例" in texts and "10.00%" in texts


def test_refused_without_a_valid_card_naming_the_field(ow: SettleWorld, login: Any) -> None:
    client = login(ow.users["clinic"])
    response = visit(client, ow, disease="冠心病")
    assert response.status_code == 422
    html = response.content.decode()
    assert "门诊慢特病病种：此人没有2020-04-01有效的“冠心病”慢病卡" in html
    response = visit(client, ow, visited_on="2018-12-31")  # before the card's certification
    assert response.status_code == 422 and "慢病卡" in response.content.decode()
    assert visit(client, ow, id_number="123").status_code == 400
    assert not Claim.objects.exists()


def test_api_outpatient_claim_and_the_422_naming_disease(ow: SettleWorld) -> None:
    token = institution_token_create(institution_code="H002")[1]
    body = {
        "claim_id": "MZ1",
        "id_number": ow.persons["poor1"].id_number,
        "admitted_on": "2020-04-01",
        "discharged_on": "2020-04-01",
        "total_amount": "500.00",
        "out_of_scope_amount": "20.00",
        "referred": False,
        "kind": "outpatient",
        "disease": "高血压",
    }

    def post(data: dict[str, Any]) -> Any:
        return Client().post(
            "/api/v1/settlements",
            json.dumps(data),
            content_type="application/json",
            headers={"Authorization": f"Bearer {token}"},
        )

    got = post(body)
    assert got.status_code == 200
    data = got.json()
    assert (
        data["kind"],
        data["disease"],
        data["basic"],
        data["aid"],
        data["supplementary"],
        data["personal"],
    ) == (
        "outpatient",
        "高血压",
        "384.00",
        "48.00",
        "11.25",
        "49.25",
    )
    refused = post(body | {"claim_id": "MZ2", "disease": "冠心病"})
    assert refused.status_code == 422
    errors = refused.json()["errors"]
    assert [e["field"] for e in errors] == ["disease"] and "慢病卡" in errors[0]["message"]
    assert post(body | {"claim_id": "MZ3", "kind": "clinic"}).status_code == 422
    missing = post(body | {"claim_id": "MZ4", "disease": None})
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "disease"

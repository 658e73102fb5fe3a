"""门诊慢特病：四条结算路径 Issue 19's done-when for outpatient claims: settlement.md §8's outpatient
examples settle exactly, and a random mixed file (stays and outpatient claims, in random arrival order)
gives the same fen, through all four paths — ``jkfp settle`` (the engine on a file, no database), the
window pages (admission + discharge for a stay, the one-screen outpatient form), the hospital API,
and ``import-claims`` + ``settle-claims``.

Each database path settles its own copy of the persons (same tags, same cards), so the year-to-date
of one path never touches another's.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from jkfp.accounts.models import Role
from jkfp.accounts.services import institution_token_create
from jkfp.care.models import ChronicCard
from jkfp.core.idnumber import make_id_number
from jkfp.registry.models import Disease, Person, Tag, TagCode
from jkfp.registry.services import disease_catalogue_load
from jkfp.settle_cli import main as settle_main
from jkfp.settlement import bulk
from jkfp.settlement.imports import claims_import
from jkfp.settlement.models import Admission, AdmissionStatus, Settlement
from jkfp.settlement.services import policy_install_preset

pytestmark = pytest.mark.django_db

AMOUNTS = ("counted_total", "hospital_absorbed", "basic", "critical", "aid", "supplementary", "personal")
DISEASES = ("高血压", "2型糖尿病", "终末期肾病")
# (tag, category): two 脱贫 persons, an ordinary resident, a 低保 person.
KINDS = ((TagCode.POOR, "poor"), (TagCode.POOR, "poor"), (None, "ordinary"), (TagCode.DIBAO, "dibao"))
LEVEL = {"H001": 2, "H002": 1}


@dataclass(frozen=True)
class Row:
    """One claim of the file: person index, institution, dates, amounts, kind and disease."""

    key: str
    person: int
    inst: str
    admitted: date
    discharged: date
    total: str
    oos: str
    disease: str  # "" for a stay

    @property
    def outpatient(self) -> bool:
        return bool(self.disease)


def _persons(county: dict[str, Any], serial: int) -> list[Any]:
    """The four persons of one path, each with cards for the three diseases since 2019."""
    out = []
    diseases = [Disease.objects.get(name=d) for d in DISEASES]
    for k, (tag, _) in enumerate(KINDS):
        number = make_id_number("421321", date(1960, 5, 1), serial + k)
        person = Person.objects.create(
            id_number=number,
            name=f"患者{serial + k}",
            sex="M",
            birth_date=date(1960, 5, 1),
            village=county["t1v1"],
        )
        if tag is not None:
            Tag.objects.create(person=person, code=tag, start_on=date(2019, 1, 1), source="测试")
        for disease in diseases:
            ChronicCard.objects.create(person=person, disease=disease, certified_on=date(2019, 1, 1))
        out.append(person)
    return out


def _random_rows(seed: int, count: int) -> list[Row]:
    rnd = random.Random(seed)
    rows = []
    for k in range(count):
        outpatient = rnd.random() < 0.5
        day = date(2020, 1, 1) + timedelta(days=rnd.randrange(0, 300))
        if outpatient:
            total = rnd.choice([rnd.randrange(0, 300_000), rnd.randrange(0, 2_000_000)])
        else:
            total = rnd.choice([rnd.randrange(0, 2_000_000), rnd.randrange(0, 20_000_000)])
        oos = rnd.choice([0, rnd.randrange(0, total + 1), total // 10])
        rows.append(
            Row(
                key=f"{k:03d}",
                person=rnd.randrange(len(KINDS)),
                inst=rnd.choice(["H001", "H002"]),
                admitted=day if outpatient else day - timedelta(days=rnd.randrange(0, 20)),
                discharged=day,
                total=f"{total // 100}.{total % 100:02d}",
                oos=f"{oos // 100}.{oos % 100:02d}",
                disease=rnd.choice(DISEASES) if outpatient else "",
            )
        )
    return rows


@pytest.fixture
def setup(county: dict[str, Any], make_user: Any) -> dict[str, Any]:
    disease_catalogue_load()
    policy_install_preset(name="suixian-2020")
    return {
        "county": county,
        "users": {
            code: make_user(Role.HOSPITAL, "421321", username=f"win{code}", institution_code=code)
            for code in LEVEL
        },
        "tokens": {code: institution_token_create(institution_code=code)[1] for code in LEVEL},
    }


def _by_cli(rows: list[Row], numbers: list[str], tmp_path: Path) -> dict[str, tuple[str, ...]]:
    """``jkfp settle`` on the rows as a file (category given; level and in-county of the institution)."""
    lines = [
        "claim_id,person_id,category,discharge_date,level,in_county,referred,total,out_of_scope,kind,disease"
    ]
    for r in rows:
        kind = "outpatient" if r.outpatient else "inpatient"
        lines.append(
            f"C-{r.key},{numbers[r.person]},{KINDS[r.person][1]},{r.discharged},{LEVEL[r.inst]},1,0,"
            f"{r.total},{r.oos},{kind},{r.disease}"
        )
    claims, out = tmp_path / "claims.csv", tmp_path / "out.csv"
    claims.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert settle_main(["--preset", "suixian-2020", "--claims", str(claims), "--out", str(out)]) == 0
    result = {}
    for line in out.read_text(encoding="utf-8").splitlines()[1:]:
        cells = line.split(",")
        result[cells[0][2:]] = tuple(cells[1:8])
    return result


def _by_window(setup: dict[str, Any], rows: list[Row], persons: list[Any]) -> None:
    clients = {}
    for code, user in setup["users"].items():
        clients[code] = Client()
        clients[code].force_login(user)
    for r in rows:
        client = clients[r.inst]
        number = persons[r.person].id_number
        if r.outpatient:
            response = client.post(
                reverse("settlement:outpatient"),
                {
                    "id_number": number,
                    "disease": r.disease,
                    "visited_on": r.discharged.isoformat(),
                    "claim_id": f"W-{r.key}",
                    "total_amount": r.total,
                    "out_of_scope_amount": r.oos,
                },
            )
            assert response.status_code == 302, response.content.decode()[-2000:]
            continue
        response = client.post(
            reverse("settlement:window"),
            {"id_number": number, "admitted_on": r.admitted.isoformat(), "deposit_waived_amount": "0.00"},
        )
        assert response.status_code == 302, response.content.decode()[-2000:]
        admission = Admission.objects.get(person=persons[r.person], status=AdmissionStatus.ADMITTED)
        response = client.post(
            reverse("settlement:discharge", args=[admission.pk]),
            {
                "claim_id": f"W-{r.key}",
                "discharged_on": r.discharged.isoformat(),
                "total_amount": r.total,
                "out_of_scope_amount": r.oos,
            },
        )
        assert response.status_code == 302, response.content.decode()[-2000:]


def _by_api(setup: dict[str, Any], rows: list[Row], persons: list[Any]) -> None:
    client = Client()
    for r in rows:
        body = {
            "claim_id": f"A-{r.key}",
            "id_number": persons[r.person].id_number,
            "admitted_on": r.admitted.isoformat(),
            "discharged_on": r.discharged.isoformat(),
            "total_amount": r.total,
            "out_of_scope_amount": r.oos,
            "referred": False,
        }
        if r.outpatient:  # a visit needs neither an admission date nor a referral flag
            body |= {"kind": "outpatient", "disease": r.disease}
            del body["admitted_on"], body["referred"]
        response = client.post(
            "/api/v1/settlements",
            json.dumps(body),
            content_type="application/json",
            headers={"Authorization": f"Bearer {setup['tokens'][r.inst]}"},
        )
        assert response.status_code == 200, response.content.decode()


def _by_settle_claims(rows: list[Row], persons: list[Any], tmp_path: Path) -> None:
    lines = [
        "claim_id,person_id,institution_code,admit_date,discharge_date,referred,total,out_of_scope,kind,disease"
    ]
    for r in rows:
        kind = "outpatient" if r.outpatient else ""
        lines.append(
            f"S-{r.key},{persons[r.person].id_number},{r.inst},{r.admitted},{r.discharged},,{r.total},{r.oos},"
            f"{kind},{r.disease}"
        )
    path = tmp_path / "import.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary = claims_import(path=path, errors_dir=tmp_path)
    assert (summary.invalid, summary.created) == (0, len(rows)), summary.errors_file
    for year in sorted({r.discharged.year for r in rows}):
        result = bulk.claims_settle_year(year=year)
        assert not result.problems


def _stored(prefix: str) -> dict[str, tuple[str, ...]]:
    return {
        s.claim.claim_id[2:]: tuple(f"{getattr(s, a):.2f}" for a in AMOUNTS)
        for s in Settlement.objects.filter(
            is_current=True, claim__claim_id__startswith=prefix
        ).select_related("claim")
    }


def test_a_random_mixed_file_gives_the_same_fen_on_all_four_paths(
    setup: dict[str, Any], tmp_path: Path
) -> None:
    rows = _random_rows(seed=19, count=40)
    assert 10 < sum(r.outpatient for r in rows) < 30  # really mixed
    window, api, batch = (_persons(setup["county"], serial) for serial in (100, 200, 300))
    expected = _by_cli(rows, [p.id_number for p in window], tmp_path)
    _by_window(setup, rows, window)
    _by_api(setup, rows, api)
    _by_settle_claims(rows, batch, tmp_path)
    assert _stored("W-") == expected
    assert _stored("A-") == expected
    assert _stored("S-") == expected
    assert len(expected) == len(rows)


def test_section8_outpatient_examples_on_every_path(setup: dict[str, Any], tmp_path: Path) -> None:
    """settlement.md §8 examples 5–7 (A poor, B ordinary) through the window, the API and settle-claims;
    ``jkfp settle`` on the shipped §8 file is tests/test_settle_cli.py's."""
    expected = {
        "E5": ("492.50", "7.50", "384.00", "0.00", "48.00", "11.25", "49.25"),
        "E6": ("4000.00", "0.00", "2616.00", "0.00", "692.00", "292.00", "400.00"),
        "E7": ("1000.00", "0.00", "390.00", "0.00", "0.00", "0.00", "610.00"),
    }
    rows = [
        Row("E5", 0, "H002", date(2020, 4, 1), date(2020, 4, 1), "500.00", "20.00", "高血压"),
        Row("E6", 0, "H002", date(2020, 9, 1), date(2020, 9, 1), "4000.00", "0.00", "高血压"),
        Row("E7", 2, "H001", date(2020, 5, 1), date(2020, 5, 1), "1000.00", "50.00", "2型糖尿病"),
    ]
    window, api, batch = (_persons(setup["county"], serial) for serial in (100, 200, 300))
    assert _by_cli(rows, [p.id_number for p in window], tmp_path) == expected
    _by_window(setup, rows, window)
    _by_api(setup, rows, api)
    _by_settle_claims(rows, batch, tmp_path)
    assert _stored("W-") == _stored("A-") == _stored("S-") == expected
    amounts = {k: Decimal(v[6]) / Decimal(v[0]) for k, v in expected.items()}
    assert amounts["E5"] == Decimal("0.1")  # §8: the personal share exactly 10 %

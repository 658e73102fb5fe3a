"""Run by ``test_concurrency.test_concurrent_file_sqlite`` in a process of its own: threads settle
the same persons' claims on a SQLite **file** database (WAL, ``BEGIN IMMEDIATE``, busy_timeout — the
production settings) and the script prints the live amounts as JSON for the test to compare."""

from __future__ import annotations

import json
import random
import sys
import threading
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any


def main(home: str) -> int:
    from benchmarks.django_setup import setup_django

    setup_django(None, home=Path(home))
    from django.db import connections

    from jkfp.core.idnumber import make_id_number
    from jkfp.regions.models import Institution, Region, RegionLevel
    from jkfp.registry.models import Person, Tag
    from jkfp.settlement.models import Settlement, YearLedger
    from jkfp.settlement.services import claim_submit

    county = Region.objects.create(code="421321", name="随县", level=RegionLevel.COUNTY)
    village = Region.objects.create(code="421321001001", name="村", level=RegionLevel.VILLAGE, parent=county)
    hospital = Institution.objects.create(code="H001", name="县医院", level="2", in_county=True)
    persons = []
    for k in range(3):
        born = date(1970, 1, 1)
        p = Person.objects.create(
            id_number=make_id_number("421321", born, 300 + k),
            name=f"并发{k}",
            sex="M",
            birth_date=born,
            village=village,
        )
        Tag.objects.create(person=p, code="poor", start_on=date(2015, 1, 1), source="t")
        persons.append(p)
    rnd = random.Random(8)
    jobs: list[dict[str, Any]] = []
    for k in range(18):
        day = date(2020, 1, 1) + timedelta(days=rnd.randint(0, 360))
        total = Decimal(rnd.randint(2000, 90000))
        jobs.append(
            {
                "claim_id": f"K{k:03d}",
                "person": persons[k % 3],
                "institution": hospital,
                "admitted_on": day,
                "discharged_on": day,
                "total_amount": total,
                "out_of_scope_amount": (total / 10).quantize(Decimal("0.01")),
            }
        )
    rnd.shuffle(jobs)
    connections.close_all()
    errors: list[str] = []
    barrier = threading.Barrier(4)

    def worker(part: list[dict[str, Any]]) -> None:
        try:
            barrier.wait()
            for job in part:
                claim_submit(**job)
        except BaseException as exc:  # reported to the test
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(jobs[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    live = {
        s.claim.claim_id: [
            str(getattr(s, f))
            for f in (
                "counted_total",
                "hospital_absorbed",
                "basic",
                "critical",
                "aid",
                "supplementary",
                "personal",
            )
        ]
        for s in Settlement.objects.filter(is_current=True).select_related("claim")
    }
    ledgers = {
        str(lg.person.id_number): str(lg.personal_ytd) for lg in YearLedger.objects.select_related("person")
    }
    claims = [
        {
            "claim_id": j["claim_id"],
            "person_id": j["person"].id_number,
            "day": j["discharged_on"].isoformat(),
            "total": str(j["total_amount"]),
            "oos": str(j["out_of_scope_amount"]),
        }
        for j in jobs
    ]
    print(json.dumps({"errors": errors, "live": live, "ledgers": ledgers, "claims": claims}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))

"""An app process for the replica and pool tests: ``python -m tests.replica.replica_app PHASE|serve``.

Runs the real settings against the databases of its environment (``DATABASE_URL``, and
``DATABASE_REPLICA_URL`` for the replica) — a separate process like an app server — and prints one
JSON object. Phases (the test drives the clusters between them):

- ``setup``: the schema (from the models, as Django's test databases without migrations) and the
  indicator tests' hand-built county with its 2024 snapshot, written to the primary;
- ``catchup``: wait until the replica has replayed everything;
- ``pages``: the county administrator's read-only pages (dashboard, drill-down, ledgers, report,
  exports); for each: status, queries per database alias, and what it showed;
- ``write-then-read``: a refresh posted (a write), then the dashboard by the same browser and by another;
- ``dies``: a page on the replica, the standby stopped (``JKFP_TEST_STANDBY`` = data directory), the
  same page again;
- ``load``: ``JKFP_TEST_THREADS`` threads × ``JKFP_TEST_REQUESTS`` dashboard requests (pool test).

``serve`` reads phases from standard input, so that one process (one Django start) runs a scenario.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import django

YEAR = 2024
COUNTY = "421321"


def _county() -> dict[str, Any]:
    """The county of the root conftest's ``county`` fixture (two townships, four villages, two institutions)."""
    from jkfp.regions.models import Institution, Region, RegionLevel

    c = Region.objects.create(code=COUNTY, name="随县", level=RegionLevel.COUNTY)
    regions: dict[str, Any] = {"county": c}
    for t in (1, 2):
        town = Region.objects.create(
            code=f"{COUNTY}{t:03d}000", name=f"第{t}镇", level=RegionLevel.TOWNSHIP, parent=c
        )
        regions[f"t{t}"] = town
        for v in (1, 2):
            regions[f"t{t}v{v}"] = Region.objects.create(
                code=f"{COUNTY}{t:03d}{v:03d}", name=f"第{t}镇{v}村", level=RegionLevel.VILLAGE, parent=town
            )
    regions["hospital"] = Institution.objects.create(code="H001", name="随县人民医院", level="2", region=c)
    regions["clinic"] = Institution.objects.create(
        code="H002", name="第1镇卫生院", level="1", region=regions["t1"]
    )
    return regions


def _make_user(role: str, code: str, username: str | None = None, **extra: Any) -> Any:
    from jkfp.accounts.services import user_create

    return user_create(
        username=username or f"{role}_{code}", password="Passw0rd!jkfp", role=role, region_code=code, **extra
    )


def setup() -> dict[str, Any]:
    from django.apps import apps
    from django.conf import settings
    from django.core.management import call_command

    from jkfp.indicators import services
    from jkfp.indicators.tests.factories import build_world

    settings.MIGRATION_MODULES = {app.label: None for app in apps.get_app_configs()}
    started = time.perf_counter()
    call_command("migrate", run_syncdb=True, verbosity=0)
    schema = time.perf_counter() - started
    build_world(_county(), _make_user)
    services.snapshot_refresh(year=YEAR)
    return {"schema_seconds": round(schema, 2), "seconds": round(time.perf_counter() - started, 2)}


def catchup() -> dict[str, Any]:
    from jkfp.core.replica import replica_state

    deadline = time.monotonic() + 30
    while True:
        state = replica_state(force=True)
        if state.lag_seconds == 0 or time.monotonic() > deadline:
            return {"usable": state.usable, "lag": state.lag_seconds, "reason": state.reason}
        time.sleep(0.1)


class AliasCounter:
    """Counts the queries each database alias runs (``execute_wrapper`` on every connection)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def wrapper(self, alias: str) -> Callable[..., Any]:
        def wrap(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
            if "pg_last_wal_replay_lsn" not in sql:  # the replica's state check is not a page's read
                with self._lock:
                    self.counts[alias] += 1
            return execute(sql, params, many, context)

        return wrap

    def install(self) -> None:
        from django.core.signals import request_started
        from django.db import connections

        def on_request(**_: Any) -> None:
            for alias in connections:
                connection = connections[alias]
                if not any(getattr(w, "jkfp_counter", False) for w in connection.execute_wrappers):
                    wrap = self.wrapper(alias)
                    setattr(wrap, "jkfp_counter", True)  # noqa: B010 — a mark on a function object
                    connection.execute_wrappers.append(wrap)

        request_started.connect(on_request, weak=False)
        on_request()

    def take(self) -> dict[str, int]:
        with self._lock:
            counts = dict(self.counts)
            self.counts.clear()
        return counts


_COUNTERS: list[AliasCounter] = []


def _counter() -> AliasCounter:
    """The process's one counter (its wrappers stay on the connections once installed)."""
    if not _COUNTERS:
        _COUNTERS.append(AliasCounter())
        _COUNTERS[0].install()
    return _COUNTERS[0]


def _client() -> Any:
    from django.test import Client

    from jkfp.accounts.models import Role, User

    client = Client()
    admin = User.objects.get(username=f"{Role.COUNTY_ADMIN}_{COUNTY}")  # the county's administrator
    client.force_login(admin, backend="django.contrib.auth.backends.ModelBackend")
    return client


def _body(response: Any) -> bytes:
    if response.streaming:
        data = b"".join(response.streaming_content)
        response.close()
        return data
    return bytes(response.content)


def _dashboard(client: Any, counter: AliasCounter) -> dict[str, Any]:
    from jkfp.indicators.selectors import report_json

    response = client.get("/indicators/", {"year": YEAR})
    report = response.context["report"] if response.status_code == 200 else None
    run = None if report is None else report.computed_at
    return {
        "status": response.status_code,
        "queries": counter.take(),
        "figures": None if report is None else report_json(report),
        "computed_at": None if run is None else run.isoformat(),
    }


def pages() -> dict[str, Any]:
    import re
    from io import BytesIO

    import openpyxl

    from jkfp.core.replica import replica_state
    from jkfp.web.tests.exporting import background_export

    counter = _counter()
    client = _client()
    counter.take()
    out: dict[str, Any] = {"dashboard": _dashboard(client, counter)}
    response = client.get("/indicators/drill/contract_rate/numerator/", {"year": YEAR, "region": COUNTY})
    match = re.search(r'id="drill-count">共 <strong>(\d+)</strong>', response.content.decode())
    out["drill"] = {
        "status": response.status_code,
        "queries": counter.take(),
        "count": int(match.group(1)) if match else None,
    }
    response = client.get("/indicators/ledgers/", {"year": YEAR})
    out["ledgers"] = {"status": response.status_code, "queries": counter.take()}
    # A ledger is a background export (queued by a POST, written by the worker's job, downloaded):
    # the job reads through reading_replica(). Its own browser: the POST marks it as having written.
    data = background_export(_client(), "/indicators/ledgers/roster.xlsx", year=YEAR, region=COUNTY)
    rows = list(openpyxl.load_workbook(BytesIO(data)).active.values)
    out["ledger_export"] = {
        "status": 200,
        "queries": counter.take(),
        "total": next((str(r[1]) for r in rows if r[0] == "合计"), None),
    }
    response = client.get("/indicators/report.docx", {"year": YEAR})
    out["report"] = {"status": response.status_code, "queries": counter.take(), "bytes": len(_body(response))}
    response = client.get("/treatment/ledger.xlsx")
    out["treatment_ledger"] = {
        "status": response.status_code,
        "queries": counter.take(),
        "bytes": len(_body(response)),
    }
    state = replica_state()
    out["replica"] = {"usable": state.usable, "lag": state.lag_seconds, "reason": state.reason}
    return out


def write_then_read() -> dict[str, Any]:
    from jkfp.core.replica import PRIMARY_COOKIE

    counter = _counter()
    writer, other = _client(), _client()
    counter.take()
    before = _dashboard(other, counter)
    response = writer.post("/indicators/refresh/", {"year": YEAR})
    posted = {"status": response.status_code, "cookie": PRIMARY_COOKIE in response.cookies}
    counter.take()
    return {
        "before": before,
        "posted": posted,
        "writer": _dashboard(writer, counter),
        "other": _dashboard(other, counter),
    }


def dies() -> dict[str, Any]:
    from jkfp.core.replica import replica_state
    from tests.replica.pgcluster import PgCluster

    counter = _counter()
    client = _client()
    counter.take()
    first = _dashboard(client, counter)
    data = Path(os.environ["JKFP_TEST_STANDBY"])
    PgCluster(root=data.parent, data=data, port=0).stop()
    second = _dashboard(client, counter)
    state = replica_state()
    return {"first": first, "second": second, "replica": {"usable": state.usable, "reason": state.reason}}


def load() -> dict[str, Any]:
    from django.db import connections

    threads = int(os.environ.get("JKFP_TEST_THREADS", "6"))
    requests = int(os.environ.get("JKFP_TEST_REQUESTS", "5"))
    statuses: Counter[str] = Counter()
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(threads)

    def work() -> None:
        try:
            barrier.wait(timeout=60)
            client = _client()
            for _ in range(requests):
                response = client.get("/indicators/", {"year": YEAR})
                with lock:
                    statuses[str(response.status_code)] += 1
        except Exception as exc:
            with lock:
                errors.append(f"{type(exc).__name__}: {str(exc).strip()[:160]}")
        finally:
            connections.close_all()

    start_at = float(os.environ.get("JKFP_TEST_START_AT", "0"))
    time.sleep(max(0.0, start_at - time.time()))  # the app processes of a test start their load together
    started = time.perf_counter()
    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return {"statuses": dict(statuses), "errors": errors, "seconds": round(time.perf_counter() - started, 2)}


PHASES: dict[str, Callable[[], dict[str, Any]]] = {
    "setup": setup,
    "catchup": catchup,
    "pages": pages,
    "write-then-read": write_then_read,
    "dies": dies,
    "load": load,
}


def serve() -> None:
    """One phase per line of standard input (``{"phase": …, "settings": {…}, "env": {…}}``), one JSON
    line out each; the connections are closed after each (their backends end and report statistics)."""
    from django.db import connections
    from django.test import override_settings

    for line in sys.stdin:
        command = json.loads(line)
        os.environ.update(command.get("env", {}))
        with override_settings(**command.get("settings", {})):
            result = PHASES[command["phase"]]()
        connections.close_all()
        print(json.dumps(result, ensure_ascii=False, default=str), flush=True)


def main(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jkfp.settings")
    django.setup()
    from django.test.utils import setup_test_environment

    setup_test_environment()  # response.context, and the test client's host
    if argv[0] == "serve":
        serve()
        return 0
    result = PHASES[argv[0]]()
    print(json.dumps(result, ensure_ascii=False, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

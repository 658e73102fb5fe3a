"""权限矩阵 Every URL of the URL conf × every role (and anonymous, and the hospital API token), checked
against ``jkfp.accounts.permissions.MATRIX`` cell by cell (issue 17 §2):

- a URL without a matrix entry fails the test (and is refused by the middleware);
- allowed → not 403 (a GET, and for an allowed writer a POST: the view may still answer 400/404/405);
- denied → 403 or 404, with no personal data of the fixture's persons in the body;
- anonymous → the login page (pages), 401 (API), the admin's own login (admin site);
- every response to a signed-in user carries ``Cache-Control: no-store`` (issue 17 §8).

The test prints how many (URL, principal, method) cells it walked.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, resolve, reverse

from jkfp.accounts.models import Role
from jkfp.accounts.permissions import DOC_PATH, FUND_LEDGERS, MATRIX, access_for, matrix_markdown

pytestmark = pytest.mark.django_db

ANONYMOUS = "anonymous"
TOKEN = "hospital_token"


@dataclass(frozen=True)
class Route:
    """One URL pattern: its name (``namespace:name``), its regex and its keyword arguments."""

    name: str
    regex: str
    kwargs: tuple[str, ...]


def _routes(patterns: Any, namespace: str = "", regex: str = "") -> Iterator[Route]:
    for pattern in patterns:
        part = pattern.pattern.regex.pattern.lstrip("^").removesuffix("\\Z").removesuffix("$")
        if isinstance(pattern, URLResolver):
            ns = ":".join(x for x in (namespace, pattern.namespace or "") if x)
            yield from _routes(pattern.url_patterns, ns, regex + part)
        elif isinstance(pattern, URLPattern):
            full = regex + part
            name = f"{namespace}:{pattern.name}" if namespace and pattern.name else (pattern.name or "")
            yield Route(name=name, regex=full, kwargs=tuple(re.compile(full).groupindex))


def all_routes() -> list[Route]:
    """Every URL pattern of the URL conf (pages, exports, the API, the admin site)."""
    return list(_routes(get_resolver().url_patterns))


@dataclass
class Samples:
    """Values for the URL's keyword arguments: real objects where a page shows a person."""

    values: dict[str, list[str]]

    def path(self, route: Route) -> str:
        if not route.name.rpartition(":")[2]:  # an unnamed pattern (the admin's redirects and catch-all)
            return "/" + re.sub(
                r"\(\?P<(\w+)>[^)]*\)", lambda m: self.values.get(m[1], ["1"])[0], route.regex
            )
        choices = [self.values.get(k, ["1"]) for k in route.kwargs]
        for combo in itertools.product(*choices):
            kwargs = dict(zip(route.kwargs, combo, strict=True))
            try:
                return reverse(route.name, kwargs=kwargs)
            except NoReverseMatch:
                continue
        raise AssertionError(f"no sample values for {route.name} {route.regex}")


@pytest.fixture
def principals(
    world: Any, county: dict[str, Any], two_counties: dict[str, Any], make_user: Any
) -> dict[str, Any]:
    """One user per role (the administrators are staff, as in production; the city and province ones
    bound to 随州市 and 湖北省 above the county), anonymous, a token."""
    from jkfp.accounts.services import institution_token_create

    admin = world.users["admin"]
    admin.is_staff = True
    admin.save(update_fields=["is_staff"])
    return {
        Role.COUNTY_ADMIN: admin,
        Role.TOWNSHIP: world.users["t1"],
        Role.VILLAGE_DOCTOR: world.users["doctor"],
        Role.HOSPITAL: make_user(Role.HOSPITAL, "421321", institution_code="H001"),
        Role.FUND: make_user(Role.FUND, "421321"),
        Role.INSPECTOR: world.users["inspector"],
        Role.CITY_ADMIN: make_user(Role.CITY_ADMIN, "421300"),
        Role.PROVINCE_ADMIN: make_user(Role.PROVINCE_ADMIN, "420000"),
        Role.CITY_INSPECTOR: make_user(Role.CITY_INSPECTOR, "421300"),
        Role.PROVINCE_INSPECTOR: make_user(Role.PROVINCE_INSPECTOR, "420000"),
        ANONYMOUS: None,
        TOKEN: institution_token_create(institution_code="H001")[1],
    }


def _samples(world: Any, county: dict[str, Any]) -> Samples:
    from django.apps import apps

    person, household = world.persons["zhang"], world.households["h1"]
    labels = [a.label for a in apps.get_app_configs()]
    return Samples(
        {
            "pk": [str(person.pk), str(household.pk), "1"],
            "code": [county["t1v1"].code, "H001", "contract_rate"],
            "side": ["numerator"],
            "kind": ["roster", "checkup", "checkups"],
            "claim_id": ["E1"],
            "entry_pk": ["1"],
            "member_pk": ["1"],
            "device_id": ["6f1c2c0e-6a53-4b8e-9a53-0c1f3d1e2a01"],
            "app_label": labels,
            "object_id": ["1"],
            "content_type_id": ["1"],
            "url": ["x/"],
        }
    )


def _personal_data(world: Any) -> list[str]:
    return [s for p in world.persons.values() for s in (p.name, p.id_number, p.id_number[-6:])]


def _request(client: Client, method: str, path: str, token: str | None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if method == "GET":
        return client.get(path, headers=headers)
    return client.post(path, {}, headers=headers)


def _admin_refuses(user: Any, path: str, status: int) -> bool:
    """The admin site's own model permissions (the county administrator edits only the catalogues and
    accounts of ``COUNTY_ADMIN_MODELS``, the service packages only read; autocomplete needs its
    query): a 403 behind the matrix."""
    parts = path.strip("/").split("/")
    if status != 403 or parts[0] != "admin" or not hasattr(user, "has_perm"):
        return False
    if parts[1:2] == ["autocomplete"]:
        return True
    if len(parts) < 3:
        return False
    action = {"add": "add", "delete": "delete"}.get(parts[-1], "view")
    return not user.has_perm(f"{parts[1]}.{action}_{parts[2]}")


def _no_store(response: Any) -> bool:
    return "no-store" in response.get("Cache-Control", "")


def _body(response: Any) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    return response.content.decode("utf-8", "replace")


def test_every_url_of_the_urlconf_is_declared(world: Any, county: dict[str, Any]) -> None:
    routes = all_routes()
    samples = _samples(world, county)
    # The name the middleware looks up: the resolved view name of a path of each pattern.
    resolved = {r.regex: resolve(samples.path(r)).view_name for r in routes}
    undeclared = sorted(
        {f"{r.regex} ({resolved[r.regex]})" for r in routes if access_for(resolved[r.regex]) is None}
    )
    assert not undeclared, f"URLs without a permission-matrix entry: {undeclared}"
    names = {r.name for r in routes}
    stale = sorted(n for n in MATRIX if n != "admin:*" and n not in names)
    assert not stale, f"matrix entries for URLs that do not exist: {stale}"
    assert len(routes) > 200  # pages, exports, the API and the admin site


def test_docs_permissions_md_is_generated_from_the_matrix() -> None:
    assert DOC_PATH.read_text(encoding="utf-8") == matrix_markdown(), (
        "docs/permissions.md is stale: run python scripts/permissions_doc.py"
    )


def test_every_url_as_every_role_follows_the_matrix(
    client: Client, world: Any, county: dict[str, Any], principals: dict[str, Any], capsys: Any
) -> None:
    samples = _samples(world, county)
    secrets = _personal_data(world)
    routes = [r for r in all_routes() if r.name not in ("web:logout", "admin:logout")]
    failures: list[str] = []
    cells = 0
    for who, principal in principals.items():
        for route in routes:
            path = samples.path(route)
            entry = access_for(resolve(path).view_name)
            assert entry is not None, route.name
            api = path.startswith("/api/")
            if who == TOKEN and not api:
                continue
            methods = ["GET"] if route.name.startswith("admin:") else ["GET", "POST"]
            for method in methods:
                client.logout()
                if who not in (ANONYMOUS, TOKEN):
                    client.force_login(principal, backend="django.contrib.auth.backends.ModelBackend")
                response = _request(client, method, path, principal if who == TOKEN else None)
                cells += 1
                status = response.status_code
                where = f"{method} {path} ({route.name}) as {who}: {status}"
                if who == ANONYMOUS:
                    if entry.public:
                        ok = status != 403
                    elif entry.token or api:
                        ok = status in (401, 405)  # a wrong method is answered before the caller is known
                    elif entry.admin_site:
                        ok = status == 302 and "/admin/login/" in response["Location"]
                    else:
                        ok = status == 302 and response["Location"].startswith("/login/?next=")
                    if not ok:
                        failures.append(f"anonymous not refused: {where}")
                    continue
                if who == TOKEN:
                    allowed = entry.token or entry.public
                else:
                    allowed = entry.public or (not entry.token and entry.allows(who, write=method == "POST"))
                if who == Role.FUND and route.name == "indicators:ledger_export" and method == "POST":
                    # The fund office exports the settlement and alerts ledgers only (a POST queues it).
                    allowed = path.rsplit("/", 1)[-1].removesuffix(".xlsx") in FUND_LEDGERS
                body = _body(response)
                if allowed and status in (401, 403) and not _admin_refuses(principal, path, status):
                    failures.append(f"allowed but refused: {where}")
                if not allowed:
                    # The API answers a wrong method 405 before it looks at the caller (nothing leaks).
                    if status not in (401, 403, 404, *((405,) if api else ())) or (status == 401 and not api):
                        failures.append(f"denied but answered: {where}")
                    leaked = [s for s in secrets if s in body]
                    if leaked:
                        failures.append(f"denied but shows {leaked}: {where}")
                if who != TOKEN and not entry.public and not _no_store(response):
                    failures.append(f"no Cache-Control: no-store: {where}")
                if who == TOKEN and not _no_store(response):
                    failures.append(f"API answer without no-store: {where}")
    with capsys.disabled():
        print(f"\npermission matrix: {len(routes)} URLs × {len(principals)} principals, {cells} requests")
    assert not failures, "\n".join(failures[:60]) + f"\n({len(failures)} in all)"


def test_fund_office_opens_only_the_persons_behind_its_claims(
    client: Client, world: Any, county: dict[str, Any], make_user: Any
) -> None:
    from datetime import date
    from decimal import Decimal

    from jkfp.settlement.models import Claim

    zhang, wang = world.persons["zhang"], world.persons["wang"]
    Claim.objects.create(
        claim_id="F1",
        person=zhang,
        institution=county["hospital"],
        level=2,
        in_county=True,
        admitted_on=date(2020, 3, 1),
        discharged_on=date(2020, 3, 9),
        total_amount=Decimal("100.00"),
        out_of_scope_amount=Decimal("0.00"),
    )
    client.force_login(make_user(Role.FUND, "421321"), backend="django.contrib.auth.backends.ModelBackend")
    page = client.get(reverse("web:person_detail", args=[zhang.pk]))
    assert page.status_code == 200 and zhang.name in page.content.decode()
    other = client.get(reverse("web:person_detail", args=[wang.pk]))
    assert other.status_code == 404 and wang.name not in other.content.decode()
    assert client.get(reverse("web:person_search"), {"q": zhang.id_number}).status_code == 403
    assert client.post(reverse("web:person_reveal", args=[zhang.pk])).status_code == 403


def test_hospital_window_finds_a_person_only_by_the_full_id_number(world: Any, make_user: Any) -> None:
    from jkfp.registry.selectors import person_for_admission, person_search

    clerk = make_user(Role.HOSPITAL, "421321", institution_code="H001")
    zhang = world.persons["zhang"]
    assert person_for_admission(user=clerk, id_number=zhang.id_number) == zhang
    assert person_for_admission(user=clerk, id_number=zhang.id_number[1:]) is None
    assert not person_search(user=clerk, q=zhang.id_number).exists()
    assert not person_search(user=clerk, q=zhang.name).exists()

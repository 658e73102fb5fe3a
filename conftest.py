"""Shared test fixtures: a small county with two townships, and one user per role."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# Property tests run on a shared 2-core machine next to other suites and benchmarks: how fast
# hypothesis can generate inputs there says nothing about the code (a property that fails still
# fails). Every example still runs; only the speed health check and the per-example deadline go.
settings.register_profile("shared-machine", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("shared-machine")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: Any, django_db_blocker: Any) -> Any:
    """pytest-django's test databases, and before it drops them on PostgreSQL: the sessions something
    left open on the test database (a thread's connection not yet collected, a server a test started
    still shutting down) are printed and ended, so ``DROP DATABASE`` does not fail the run after every
    test has passed ("is being accessed by other users"). What they were stays in the output."""
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid, application_name, state, backend_start, left(query, 200) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            left = cursor.fetchall()
            for row in left:
                print(f"\n!! session left open on the test database, ended before dropping it: {row}")
                cursor.execute("SELECT pg_terminate_backend(%s)", [row[0]])
        connection.close()


@pytest.fixture(autouse=True)
def _fast_hasher(request: pytest.FixtureRequest) -> Any:
    """Argon2 costs about half a second per user on these machines: tests use MD5 unless marked
    ``@pytest.mark.argon2`` (the tests of the real hasher)."""
    if request.node.get_closest_marker("argon2"):
        yield
        return
    settings = request.getfixturevalue("settings")
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    yield


@pytest.fixture
def county(db: Any) -> dict[str, Any]:
    """随县 with townships 001 and 002, two villages each, and two institutions."""
    from jkfp.regions.models import Institution, Region, RegionLevel

    c = Region.objects.create(code="421321", name="随县", level=RegionLevel.COUNTY)
    regions: dict[str, Any] = {"county": c}
    for t in (1, 2):
        town = Region.objects.create(
            code=f"421321{t:03d}000", name=f"第{t}镇", level=RegionLevel.TOWNSHIP, parent=c
        )
        regions[f"t{t}"] = town
        for v in (1, 2):
            regions[f"t{t}v{v}"] = Region.objects.create(
                code=f"421321{t:03d}{v:03d}", name=f"第{t}镇{v}村", level=RegionLevel.VILLAGE, parent=town
            )
    regions["hospital"] = Institution.objects.create(code="H001", name="随县人民医院", level="2", region=c)
    regions["clinic"] = Institution.objects.create(
        code="H002", name="第1镇卫生院", level="1", region=regions["t1"]
    )
    return regions


@pytest.fixture
def make_user(county: dict[str, Any]) -> Callable[..., Any]:
    """Create a user of ``role`` bound to the region ``code`` (password ``Passw0rd!jkfp``)."""
    from jkfp.accounts.services import user_create

    def _make(role: str, code: str, username: str | None = None, **extra: Any) -> Any:
        return user_create(
            username=username or f"{role}_{code}",
            password="Passw0rd!jkfp",
            role=role,
            region_code=code,
            **extra,
        )

    return _make


@pytest.fixture(scope="session", autouse=True)
def _static_collected() -> None:
    """Pages name their static files through the manifest: collect once (skipped when current)."""
    from jkfp.ops.static import static_collect

    static_collect()


@pytest.fixture
def two_counties(county: dict[str, Any]) -> dict[str, Any]:
    """湖北省 › 随州市 › 随县 (the ``county`` fixture) and 曾都区 (421303: one township, two villages,
    hospital H101): a province, a city and two neighbouring counties (issue 21)."""
    from jkfp.regions.models import Institution, Region, RegionLevel

    province = Region.objects.create(code="420000", name="湖北省", level=RegionLevel.PROVINCE)
    city = Region.objects.create(code="421300", name="随州市", level=RegionLevel.CITY, parent=province)
    Region.objects.filter(code="421321").update(parent=city)
    county["county"].refresh_from_db()
    other = Region.objects.create(code="421303", name="曾都区", level=RegionLevel.COUNTY, parent=city)
    town = Region.objects.create(
        code="421303001000", name="东城街道", level=RegionLevel.TOWNSHIP, parent=other
    )
    regions = {
        **county,
        "province": province,
        "city": city,
        "b": other,
        "b_t1": town,
        "b_hospital": Institution.objects.create(code="H101", name="曾都区医院", level="2", region=other),
    }
    for v in (1, 2):
        regions[f"b_t1v{v}"] = Region.objects.create(
            code=f"421303001{v:03d}", name=f"东城{v}社区", level=RegionLevel.VILLAGE, parent=town
        )
    return regions

"""`jkfp demo`: 示例县 build the synthetic demo county, import it, create one demo account per role.

The files are written under ``var/demo/`` (or ``--out``) and imported through the same import code
as ``jkfp import-regions`` / ``import-institutions`` / ``import-roster``. Running it again changes
nothing (the same seed writes the same files, and re-importing a file changes nothing);
``--reset`` first deletes the demo county's people, households, accounts, institutions and regions,
after asking (``--yes`` for scripts).

The demo never touches real data: it runs only on an empty database — and then stamps it
(``ops.DemoStamp``) — or on one it stamped that holds nothing else it did not create (accounts other
than the demo's, regions outside the demo county). A real county using the code 421321 is refused.
"""

from __future__ import annotations

import csv
import io
import sys
import time
import zlib
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Count, ProtectedError
from django.utils import timezone

from jkfp.accounts.models import Role, User
from jkfp.accounts.services import user_create
from jkfp.capacity.synthetic import demo_capacity_build, demo_capacity_reset
from jkfp.care.synthetic import demo_care_build, demo_care_reset, demo_doctor_names, demo_members_link
from jkfp.cli.progress import command_progress, progress_wanted
from jkfp.core.tabular import TableError
from jkfp.indicators.synthetic import demo_indicators_build
from jkfp.monitoring.synthetic import demo_monitoring_build, demo_monitoring_reset
from jkfp.ops.models import DemoStamp
from jkfp.regions.imports import institutions_import, regions_import
from jkfp.regions.models import Institution, Region, RegionLevel, prefix_range
from jkfp.registry.imports import roster_import
from jkfp.registry.models import Household, ImportRun, Person, SourceRecord, VerificationStatus
from jkfp.registry.reconcile import reconcile_summary
from jkfp.registry.services import disease_catalogue_load, person_verify
from jkfp.registry.synthetic import (
    OUT_OF_COUNTY_HOSPITALS,
    PROVINCIAL,
    REGION_HEADER,
    SOURCE_FILES,
    DemoFiles,
    build_county,
)
from jkfp.settlement.synthetic import (
    demo_county_policy,
    demo_settlement_build,
    demo_settlement_reset,
    demo_subsidies_build,
    demo_subsidies_reset,
)
from jkfp.settlement.synthetic_outpatient import demo_outpatient_build
from jkfp.treatment.imports import cases_import
from jkfp.treatment.models import DesignatedHospital, MajorDiseaseCase, Referral
from jkfp.treatment.synthetic import demo_cases_write

DEMO_PASSWORD = "jkfp-demo-2026"  # noqa: S105 — printed on purpose: demo accounts only
URL = "http://127.0.0.1:8000/"
PERSONS_PER_HOUSEHOLD = 50_000 / 17_000

# (user name, role, full name); regions are chosen from the built county.
DEMO_USERS: tuple[tuple[str, str, str], ...] = (
    ("demo-admin", Role.COUNTY_ADMIN, "县卫健局（演示）"),
    ("demo-township", Role.TOWNSHIP, "乡镇卫生院（演示）"),
    ("demo-doctor", Role.VILLAGE_DOCTOR, "村医（演示）"),
    ("demo-hospital", Role.HOSPITAL, "县人民医院结算窗口（演示）"),
    ("demo-fund", Role.FUND, "医保局·民政（演示）"),
    ("demo-inspector", Role.INSPECTOR, "督查（演示）"),
)
# A demo city (``--counties N``, issue 21): 随州市 with 随县 (the one-county demo's county), 广水市, 曾都区,
# then made-up counties; the first county keeps the one-county demo's account names, the others' end
# with their code; the city has its administrator and inspector.
CITY_CODE, CITY_NAME = "421300", "随州市"
FIRST_COUNTY = ("421321", "随县")
MORE_COUNTIES = (("421381", "广水市"), ("421303", "曾都区"))
MAX_COUNTIES = 20
CITY_USERS: tuple[tuple[str, str, str], ...] = (
    ("demo-city-admin", Role.CITY_ADMIN, "市卫健委（演示）"),
    ("demo-city-inspector", Role.CITY_INSPECTOR, "市督查（演示）"),
)
ADMIN_DOCTOR_FUND = ("demo-admin", "demo-doctor", "demo-fund")
CONFIRM_NOTE = "演示数据：入户核实，情况属实"
REJECT_NOTE = "演示数据：已不在国家平台名单，非当前对象"


def demo_counties(n: int) -> list[tuple[str, str]]:
    """示例县 ``(code, name)`` of the demo's ``n`` counties, the first always 随县 421321."""
    made_up = [(f"4213{50 + k:02d}", f"示例{k + 1}县") for k in range(max(0, n - 1 - len(MORE_COUNTIES)))]
    return [FIRST_COUNTY, *MORE_COUNTIES, *made_up][:n]


def demo_username(base: str, county_code: str) -> str:
    """The demo account ``base`` of a county: as in the one-county demo for 随县, with the code for the others."""
    return base if county_code == FIRST_COUNTY[0] else f"{base}-{county_code}"


def demo_usernames(county_code: str) -> list[str]:
    return [demo_username(u, county_code) for u, _, _ in DEMO_USERS]


def write_city_regions(path: Path) -> Path:
    """市级区划 The demo city's row for ``jkfp import-regions``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(REGION_HEADER)
        writer.writerow([CITY_CODE, CITY_NAME, "", "市"])
    return path


def county_under(path: Path, *, county_code: str, parent: str) -> None:
    """Put the county row of a demo regions file under ``parent`` (its 上级代码 column)."""
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    for row in rows:
        if row and row[0] == county_code:
            row[2] = parent
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)


ERR_NOT_DEMO = (
    "数据库中有示例程序没有创建的数据（{what}）：jkfp demo 只在空数据库或它自己建的示例数据库上运行，"
    "不会改动或删除真实数据 / the database holds data the demo did not create ({what}): jkfp demo runs only "
    "on an empty database or on its own demo database"
)


def demo_database_claim(*, county_code: str, demo_usernames: list[str]) -> DemoStamp:
    """示例库检查 The demo's stamp: written now on an empty database, checked on a stamped one.

    Raises CommandError naming what the demo did not create: any data in an unstamped database; in a
    stamped one, accounts other than the demo's or regions outside the demo county.
    """
    stamp = DemoStamp.objects.filter(county_code=county_code).first()
    lo, hi = prefix_range(county_code[:4] if county_code == CITY_CODE else county_code)
    if stamp is None:
        found = [
            label
            for label, model in (("人员 persons", Person), ("区划 regions", Region), ("账号 accounts", User),
                                 ("机构 institutions", Institution), ("导入 imports", ImportRun))
            if model.objects.exists()
        ]  # fmt: skip
        if found or DemoStamp.objects.exists():
            raise CommandError(
                ERR_NOT_DEMO.format(what="、".join(found) or "另一个示例县 another demo county")
            )
        return DemoStamp.objects.create(county_code=county_code)
    others = list(User.objects.exclude(username__in=demo_usernames).values_list("username", flat=True)[:3])
    if others:
        raise CommandError(ERR_NOT_DEMO.format(what="账号 accounts " + ", ".join(others)))
    outside = list(Region.objects.exclude(code__gte=lo, code__lt=hi).values_list("code", flat=True)[:3])
    if outside:
        raise CommandError(ERR_NOT_DEMO.format(what="区划 regions " + ", ".join(outside)))
    return stamp


class Command(BaseCommand):
    help = "生成示例县数据、导入并创建演示账号（可重复运行）/ build the demo county, import it, create demo accounts"
    stealth_options = ("stdin",)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--persons", type=int, default=50_000, help="人员数 number of persons (default 50000)"
        )
        parser.add_argument("--out", type=Path, default=None, help="文件目录 folder for the files (var/demo)")
        parser.add_argument(
            "--reset",
            action="store_true",
            help="先删除示例数据（改变 --persons 时使用）/ delete the demo data first (use it when --persons changes)",
        )
        parser.add_argument("--seed", type=int, default=2020, help="随机种子 random seed (default 2020)")
        parser.add_argument(
            "--counties",
            type=int,
            default=1,
            help="县数：大于1时生成一个市及其N个县（各县人员数为 --persons）/ counties: above 1, a city with N "
            "counties of --persons persons each (default 1: one county)",
        )
        parser.add_argument(
            "--yes", action="store_true", help="--reset 时不再询问 / do not ask before --reset deletes"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        with command_progress(self.stdout, enabled=progress_wanted(self.stdout)) as report:
            self._report = report
            self._done = 0
            self._build(options)
        self._report = None

    def _build(self, options: dict[str, Any]) -> None:
        started = time.perf_counter()
        persons = int(options["persons"])
        if persons < 100:
            raise CommandError("人员数至少100 / --persons must be at least 100")
        n_counties = int(options["counties"])
        if not 1 <= n_counties <= MAX_COUNTIES:
            raise CommandError(f"县数应在1至{MAX_COUNTIES}之间 / --counties must be 1 to {MAX_COUNTIES}")
        out = Path(options["out"] or settings.VAR_DIR / "demo")
        errors_dir = out / "errors"
        self._ensure_schema()
        counties = demo_counties(n_counties)
        # one county's 18 lines; a city adds its regions, a heading and a policy per county, its accounts
        self.STEPS = 18 if n_counties == 1 else 20 * n_counties + 1
        usernames = [u for code, _ in counties for u in demo_usernames(code)]
        if n_counties > 1:
            usernames += [u for u, _, _ in CITY_USERS]
        stamp = counties[0][0] if n_counties == 1 else CITY_CODE
        demo_database_claim(county_code=stamp, demo_usernames=usernames)
        if options["reset"]:
            self._confirm_reset(stamp, yes=bool(options["yes"]), stdin=options.get("stdin"))
            for code, _ in counties:
                self._reset(code)
            if n_counties > 1:
                self._reset_city()
        accounts: dict[str, tuple[User, Region]] = {}
        if n_counties > 1:
            try:
                summary = regions_import(path=write_city_regions(out / "市区划.csv"), errors_dir=errors_dir)
            except TableError as exc:
                raise CommandError(f"{exc.zh} / {exc.en}") from exc
            self._say("市级区划 city regions:\n  " + summary.text().replace("\n", "\n  "))
        # Every county's regions, institutions and lists first, so that each county's stays can be in
        # its neighbours' hospitals too; then each county's accounts, care, settlement … in turn.
        built: list[tuple[int, DemoFiles]] = []
        for index, (code, name) in enumerate(counties):
            if n_counties > 1:
                self._say(f"—— {name}（{code}）——")
            files = self._county_files(
                code=code,
                name=name,
                persons=persons,
                seed=int(options["seed"]) + index,
                out=out if n_counties == 1 else out / code,
                errors_dir=errors_dir,
                parent=None if n_counties == 1 else CITY_CODE,
            )
            built.append((index, files))
        for index, files in built:
            accounts.update(
                self._county(files=files, index=index, errors_dir=errors_dir, city=n_counties > 1)
            )
        if n_counties > 1:
            accounts.update(self._city_accounts())
        recon = reconcile_summary()
        self._say(
            f"名单比对 reconciliation: 人员 persons {recon['persons']}，全部来源 in all {recon['in_all']}，"
            f"仅一个来源 in one {recon['in_one']}，不一致 conflicts {recon['conflicts']}"
        )
        self._print_accounts(accounts)
        self._say(f"用时 finished in {time.perf_counter() - started:.1f} s")

    def _county_files(
        self,
        *,
        code: str,
        name: str,
        persons: int,
        seed: int,
        out: Path,
        errors_dir: Path,
        parent: str | None,
    ) -> DemoFiles:
        """One county's files, imported: regions, institutions, the three lists, major-disease cases."""
        county_code = code
        step = time.perf_counter()
        files = build_county(
            out,
            persons=persons,
            households=max(1, round(persons / PERSONS_PER_HOUSEHOLD)),
            seed=seed,
            county_code=county_code,
            county_name=name,
        )
        if parent is not None:
            county_under(files.regions, county_code=county_code, parent=parent)
        self._say(
            f"已生成示例县文件 {out}（{files.persons}人，{files.households}户，{len(files.village_codes)}个村）"
            f" / demo files written ({time.perf_counter() - step:.1f} s)"
        )
        try:
            step = time.perf_counter()
            summary = regions_import(path=files.regions, errors_dir=errors_dir)
            self._say("行政区划 regions:\n  " + summary.text().replace("\n", "\n  "))
            summary = institutions_import(path=files.institutions, errors_dir=errors_dir)
            self._say("医疗机构 institutions:\n  " + summary.text().replace("\n", "\n  "))
            for source in files.sources:
                summary = roster_import(
                    path=source.path, source=source.name, year=source.year, errors_dir=errors_dir
                )
                self._say(f"花名册 roster {source.name}（{source.year}年, {source.path.name}）:")
                self._say("  " + summary.text().replace("\n", "\n  "))
            # Major-disease cases of the persons whose conditions are on the major-disease list.
            cases_file = demo_cases_write(path=files.out_dir / "大病救治.csv")
            summary = cases_import(path=cases_file.path, errors_dir=errors_dir)
            self._say("大病救治 major-disease cases:\n  " + summary.text().replace("\n", "\n  "))
        except TableError as exc:
            raise CommandError(f"{exc.zh} / {exc.en}") from exc
        self._say(f"导入完成 imports done ({time.perf_counter() - step:.1f} s)")
        return files

    def _county(
        self, *, files: DemoFiles, index: int, errors_dir: Path, city: bool
    ) -> dict[str, tuple[User, Region]]:
        """One county's accounts, verification, care, capacity, settlement, monitoring and indicators."""
        county_code = files.county_code
        step = time.perf_counter()
        accounts = self._accounts(files)
        admin, doctor, fund = (accounts[demo_username(u, county_code)][0] for u in ADMIN_DOCTOR_FUND)
        confirmed, rejected = self._verify(files, admin)
        self._say(
            f"核实核准 verification: 新核准 confirmed {confirmed}，新否决 rejected {rejected}"
            f" ({time.perf_counter() - step:.1f} s)"
        )
        step = time.perf_counter()
        care = demo_care_build(county_code=county_code, today=timezone.localdate(), doctor_user=doctor)
        self._say(f"签约随访 care: {care.text()} ({time.perf_counter() - step:.1f} s)")
        step = time.perf_counter()
        capacity = demo_capacity_build(
            county_code=county_code,
            today=timezone.localdate(),
            out_dir=files.out_dir,
            errors_dir=errors_dir,
            doctor_names=demo_doctor_names(county_code=county_code),
        )
        linked = demo_members_link(county_code=county_code, today=timezone.localdate())
        self._say(
            f"基层能力 capacity: {capacity.text()}；关联团队成员 {linked} 名 ({time.perf_counter() - step:.1f} s)\n"
            f"  示例空白点：{capacity.retired_doctor}（村医上月离岗）、{capacity.blank_village}（无卫生室）；"
            f"{capacity.not_standardised}尚未达标；{capacity.exception_village}由乡镇卫生院覆盖"
        )
        step = time.perf_counter()
        if city:  # a demo city: each county its own policy version (issue 21)
            policy = demo_county_policy(county_code=county_code, index=index, today=timezone.localdate())
            self._say(f"县级政策 county policy: {policy}")
        settled = demo_settlement_build(out_dir=files.out_dir, county_code=county_code, errors_dir=errors_dir)
        subsidised = demo_subsidies_build(
            county_code=county_code,
            today=timezone.localdate(),
            maker=admin,
            checker=fund,
            out_dir=files.out_dir,
        )
        self._say(
            f"一站式结算 settlement: {settled.text()}\n  {subsidised.text()} ({time.perf_counter() - step:.1f} s)"
        )
        step = time.perf_counter()
        outpatient = demo_outpatient_build(
            out_dir=files.out_dir, county_code=county_code, errors_dir=errors_dir
        )
        self._say(f"门诊慢特病 outpatient: {outpatient.text()} ({time.perf_counter() - step:.1f} s)")
        step = time.perf_counter()
        monitored = demo_monitoring_build(
            county_code=county_code,
            today=timezone.localdate(),
            admin=admin,
            doctor=doctor,
        )
        self._say(f"防返贫监测 monitoring: {monitored.text()} ({time.perf_counter() - step:.1f} s)")

        indicators = demo_indicators_build(
            county_code=county_code, today=timezone.localdate(), out_dir=files.out_dir
        )
        self._say(f"指标 indicators: {indicators.text()}")
        return accounts

    # -----------------------------------------------------------------------------------------

    # The demo's steps (files, regions, institutions, three lists, cases, imports done, verification, capacity,
    # care, settlement, monitoring, indicators, reconciliation): the bar advances one per line said.
    STEPS = 18

    def _say(self, text: str) -> None:
        self.stdout.write(text)
        self._done = getattr(self, "_done", 0) + 1
        report = getattr(self, "_report", None)
        if report is not None:
            report(text.splitlines()[0][:60], self._done / self.STEPS)

    def _ensure_schema(self) -> None:
        """Migrate only when something is unapplied (``jkfp init`` normally ran before)."""
        connection = connections[DEFAULT_DB_ALIAS]
        executor = MigrationExecutor(connection)
        if executor.migration_plan(executor.loader.graph.leaf_nodes()):
            call_command("migrate", interactive=False, verbosity=0)
        disease_catalogue_load()

    def _confirm_reset(self, county_code: str, *, yes: bool, stdin: Any) -> None:
        if yes:
            return
        stdin = stdin or sys.stdin
        if not stdin.isatty():
            raise CommandError(
                "--reset 会删除示例县的全部数据：请在终端确认，或加 --yes / --reset deletes the whole demo "
                "county: confirm on a terminal, or add --yes"
            )
        self.stdout.write(
            f"将删除示例县 {county_code} 的全部数据并重建，确定吗？/ delete and rebuild the demo county? [y/N] "
        )
        self.stdout.flush()
        if stdin.readline().strip().lower() not in {"y", "yes", "是"}:
            raise CommandError("已取消 / cancelled")

    def _reset(self, county_code: str) -> None:
        """删除示例数据 Delete the demo county: accounts, people, households, institutions, regions."""
        lo, hi = prefix_range(county_code)
        in_county = {"village_id__gte": lo, "village_id__lt": hi}
        with transaction.atomic():
            demo_subsidies_reset(county_code=county_code)  # batches protect the accounts that made them
            User.objects.filter(username__in=demo_usernames(county_code)).delete()
            # Treatment records protect their persons and institutions: they go first.
            person_in_county = {f"person__{key}": value for key, value in in_county.items()}
            MajorDiseaseCase.objects.filter(**person_in_county).delete()
            Referral.objects.filter(**person_in_county).delete()
            DesignatedHospital.objects.filter(
                institution__code__in=self._demo_institution_codes(county_code)
            ).delete()
            demo_monitoring_reset(county_code=county_code)  # alerts and cases protect their persons
            demo_settlement_reset(county_code=county_code)
            demo_care_reset(county_code=county_code)
            demo_capacity_reset(county_code=county_code)
            Person.objects.filter(**in_county).delete()
            Household.objects.filter(**in_county).delete()
            ImportRun.objects.filter(source__in=[name for name, *_ in SOURCE_FILES]).delete()
            Institution.objects.filter(code__in=self._demo_institution_codes(county_code)).delete()
        try:
            with transaction.atomic():
                regions = Region.objects.filter(code__gte=lo, code__lt=hi)
                for level in (RegionLevel.VILLAGE, RegionLevel.TOWNSHIP, RegionLevel.COUNTY):
                    regions.filter(level=level).delete()
        except ProtectedError:
            self._say(
                "注意：仍有其他账号或机构属于示例县，区划未删除 / note: other accounts or institutions still "
                "belong to the demo county, its regions were kept"
            )
        self._say("已删除示例数据 / demo data deleted")

    @staticmethod
    def _demo_institution_codes(county_code: str) -> list[str]:
        lo, hi = prefix_range(county_code)
        codes = list(
            Institution.objects.filter(region_id__gte=lo, region_id__lt=hi).values_list("code", flat=True)
        )
        return codes + [code for code, _ in OUT_OF_COUNTY_HOSPITALS]

    def _accounts(self, files: DemoFiles) -> dict[str, tuple[User, Region]]:
        """One account per role; an existing one keeps its row and gets the demo password back."""
        township = files.township_codes[0]
        lo, hi = prefix_range(township[:9])
        busiest = (
            Person.objects.filter(village_id__gte=lo, village_id__lt=hi)
            .values("village_id")
            .annotate(n=Count("id"))
            .order_by("-n", "village_id")
            .first()
        )
        village = busiest["village_id"] if busiest else next(v for v in files.village_codes if v[:9] == lo)
        bindings = {
            Role.COUNTY_ADMIN: (files.county_code, None),
            Role.TOWNSHIP: (township, None),
            Role.VILLAGE_DOCTOR: (village, None),
            Role.HOSPITAL: (files.county_code, files.county_hospital_code),
            Role.FUND: (files.county_code, None),
            Role.INSPECTOR: (files.county_code, None),
        }
        accounts: dict[str, tuple[User, Region]] = {}
        for base, role, base_name in DEMO_USERS:
            region_code, institution = bindings[role]
            username = demo_username(base, files.county_code)
            full_name = base_name if username == base else f"{files.county_name}{base_name}"
            user = _demo_account(username, role, region_code, full_name, institution)
            accounts[username] = (user, Region.objects.get(code=user.region_id))
        return accounts

    def _city_accounts(self) -> dict[str, tuple[User, Region]]:
        """The city's administrator and inspector (an existing one gets the demo password back)."""
        accounts: dict[str, tuple[User, Region]] = {}
        for username, role, full_name in CITY_USERS:
            user = _demo_account(username, role, CITY_CODE, full_name)
            accounts[username] = (user, Region.objects.get(code=user.region_id))
        return accounts

    def _reset_city(self) -> None:
        """删除示例市 The city's accounts and its region (its counties were deleted before)."""
        User.objects.filter(username__in=[u for u, _, _ in CITY_USERS]).delete()
        try:
            with transaction.atomic():
                Region.objects.filter(code=CITY_CODE).delete()
        except ProtectedError:
            self._say(
                "注意：示例市的区划仍被使用，未删除 / note: the demo city's region is still in use, kept"
            )

    def _verify(self, files: DemoFiles, admin: User) -> tuple[int, int]:
        """Confirm a share of ill persons named by every list, reject some only the provincial list names.

        So the reconciliation page shows pending, confirmed and rejected persons. Deterministic: the
        same persons every run, and a person already verified is left alone.
        """
        n_sources = len(files.sources)
        lo, hi = prefix_range(files.county_code)
        named = (
            SourceRecord.objects.filter(active=True, person__village_id__gte=lo, person__village_id__lt=hi)
            .values("person_id")
            .annotate(n=Count("source"))
        )
        in_all = {row["person_id"] for row in named if row["n"] == n_sources}
        provincial_only = set(
            SourceRecord.objects.filter(active=True, source=PROVINCIAL)
            .exclude(person__sources__source__in=[s.name for s in files.sources if s.name != PROVINCIAL])
            .values_list("person_id", flat=True)
        )
        first_township = files.township_codes[0][:9]
        confirmed = rejected = 0
        ill = (
            Person.objects.filter(conditions__isnull=False, verification_status=VerificationStatus.PENDING)
            .distinct()
            .order_by("id")
        )
        with transaction.atomic():
            for person in ill.iterator(chunk_size=2000):
                if person.pk in in_all and (
                    person.village_id.startswith(first_township)
                    or zlib.crc32(person.id_number.encode()) % 8 == 0
                ):
                    person_verify(
                        person=person, user=admin, status=VerificationStatus.CONFIRMED, note=CONFIRM_NOTE
                    )
                    confirmed += 1
                elif person.pk in provincial_only and zlib.crc32(person.id_number.encode()) % 40 == 0:
                    person_verify(
                        person=person, user=admin, status=VerificationStatus.REJECTED, note=REJECT_NOTE
                    )
                    rejected += 1
        return confirmed, rejected

    def _print_accounts(self, accounts: dict[str, tuple[User, Region]]) -> None:
        from rich.console import Console  # noqa: PLC0415 (a heavy library, loaded only when a file is written)
        from rich.table import Table  # noqa: PLC0415 (a heavy library, loaded only when a file is written)

        table = Table(title="演示账号 demo accounts")
        for heading in ("用户名 user", "角色 role", "区划 region", "密码 password"):
            table.add_column(heading)
        for username, (user, region) in accounts.items():
            label = Role(user.role).label
            where = f"{region.name} {region.code}"
            if user.institution_id:
                where += f"（{Institution.objects.get(code=user.institution_id).name}）"
            table.add_row(username, f"{label} {user.role}", where, DEMO_PASSWORD)
        buf = io.StringIO()
        Console(file=buf, width=120, no_color=True, emoji=False).print(table)
        self._say(buf.getvalue().rstrip())
        self._say(
            f"请用浏览器打开 {URL} 登录（先运行 jkfp serve） / open {URL} and log in (after `jkfp serve`)"
        )


def _demo_account(
    username: str, role: str, region_code: str, full_name: str, institution: str | None = None
) -> User:
    """示例账号 The demo account ``username``: created with the demo password, or an existing one given
    the demo password back and reactivated."""
    user = User.objects.filter(username=username).first()
    if user is None:
        return user_create(
            username=username,
            password=DEMO_PASSWORD,
            role=role,
            region_code=region_code,
            full_name=full_name,
            institution_code=institution,
        )
    if not user.check_password(DEMO_PASSWORD) or not user.is_active:
        user.set_password(DEMO_PASSWORD)
        user.is_active = True
        user.save(update_fields=["password", "is_active"])
    return user

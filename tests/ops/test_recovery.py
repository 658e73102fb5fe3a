"""中断恢复与进程看护 Runs whose process died are marked 失败 (issue 17 §3); `jkfp serve` restarts a dead
worker or web process (§1); the worker's memory ceiling; the data-written mark of an import.

The crash tests run a real `jkfp worker` (and a real `jkfp serve`) on the test's database (PostgreSQL:
the test database itself; SQLite: a file copy, ``benchmarks.loadtest.Database``) and kill it with SIGKILL.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import transaction
from django.test import Client
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from benchmarks.loadtest import SERVER_SECRET_KEY, Database, free_port
from jkfp.accounts.models import Role
from jkfp.core.runner import runner_alive, runner_token
from jkfp.ops.models import ExportRun, ExportStatus
from jkfp.ops.recovery import EXPORT_TASK, IMPORT_TASKS, TASK_ENDED, runs_recover
from jkfp.ops.worker import memory_ceiling_set
from jkfp.regions.models import Region
from jkfp.registry.models import ImportKind, ImportRun, ImportStatus, Person
from jkfp.registry.synthetic import write_roster
from jkfp.registry.tasks import data_written_marked, roster_import_task
from jkfp.web.background import export_task

ENDED = "进程已结束 / process ended"


def _ended_token() -> str:
    """The token of a process that has ended (a child started and reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    token = runner_token(child.pid)
    child.kill()
    child.wait()
    return token


def test_a_runner_is_alive_while_its_process_runs() -> None:
    assert runner_alive(runner_token()) is True
    assert runner_alive(_ended_token()) is False
    pid, start, boot, host = runner_token().split(":", 3)
    assert (
        runner_alive(f"{pid}:{int(start) + 1}:{boot}:{host}") is False
    )  # the pid, reused by another process
    assert runner_alive(f"{pid}:{start}:00000000:{host}") is False  # before the machine restarted
    assert runner_alive(f"{pid}:{start}:{boot}:another-host") is None  # unknown: never taken for ended
    assert runner_alive("host-123-abcdef") is None  # a worker id of an older version
    assert len(runner_token()) <= 64  # fits django-tasks' worker id


def _run(*, runner: str, **fields: Any) -> ImportRun:
    return ImportRun.objects.create(
        kind=ImportKind.ROSTER,
        source="国家平台",
        year=2024,
        file_name="a.csv",
        status=ImportStatus.RUNNING,
        started_at=timezone.now(),
        runner=runner,
        **fields,
    )


@pytest.mark.django_db
def test_only_runs_whose_process_ended_are_marked_failed(make_user: Callable[..., Any]) -> None:
    dead = _run(runner=_ended_token(), progress=20)
    live = _run(runner=runner_token())
    elsewhere = _run(runner=f"1:1:{runner_token().split(':')[2]}:another-host")
    legacy_old = _run(runner="")
    ImportRun.objects.filter(pk=legacy_old.pk).update(started_at=timezone.now() - timedelta(hours=25))
    legacy_new = _run(runner="")
    done = _run(runner=_ended_token())
    ImportRun.objects.filter(pk=done.pk).update(status=ImportStatus.DONE)
    task = DBTaskResult.objects.create(
        status=TaskResultStatus.RUNNING, args_kwargs={"args": [], "kwargs": {}}, task_path="x.y",
        backend_name="default", run_after=timezone.now(), worker_ids=[_ended_token()],
    )  # fmt: skip
    alive_task = DBTaskResult.objects.create(
        status=TaskResultStatus.RUNNING, args_kwargs={"args": [], "kwargs": {}}, task_path="x.y",
        backend_name="default", run_after=timezone.now(), worker_ids=[runner_token()],
    )  # fmt: skip

    owner = make_user(Role.COUNTY_ADMIN, "421321")
    export = ExportRun.objects.create(kind="reconciliation", title="名单比对", user=owner, file_name="a.xlsx",
                                      status=ExportStatus.RUNNING, runner=_ended_token())  # fmt: skip
    live_export = ExportRun.objects.create(kind="reconciliation", title="名单比对", user=owner, file_name="b.xlsx",
                                           status=ExportStatus.RUNNING, runner=runner_token())  # fmt: skip

    recovered = runs_recover()

    assert recovered.exports == [export.pk]
    export.refresh_from_db()
    assert (
        export.status == ExportStatus.FAILED
        and export.message.startswith(ENDED)
        and "没有生成文件" in export.message
    )
    assert ExportRun.objects.get(pk=live_export.pk).status == ExportStatus.RUNNING
    assert sorted(recovered.imports) == sorted([dead.pk, legacy_old.pk])
    assert recovered.tasks == [str(task.pk)]
    dead.refresh_from_db()
    assert dead.status == ImportStatus.FAILED and dead.message.startswith(ENDED) and dead.finished_at
    for untouched in (live, elsewhere, legacy_new):
        untouched.refresh_from_db()
        assert untouched.status == ImportStatus.RUNNING
    assert ImportRun.objects.get(pk=done.pk).status == ImportStatus.DONE
    task.refresh_from_db()
    alive_task.refresh_from_db()
    assert task.status == TaskResultStatus.FAILED and task.exception_class_path == TASK_ENDED
    assert alive_task.status == TaskResultStatus.RUNNING
    assert runs_recover().imports == []  # nothing left to mark


def _claimed(path: str, run_id: int, worker: str) -> DBTaskResult:
    """A task the worker ``worker`` has claimed (running) for the run ``run_id``."""
    return DBTaskResult.objects.create(
        status=TaskResultStatus.RUNNING, args_kwargs={"args": [], "kwargs": {"run_id": run_id}}, task_path=path,
        backend_name="default", run_after=timezone.now(), worker_ids=[worker],
    )  # fmt: skip


def test_every_task_taking_a_run_id_is_recovered() -> None:
    """Every background task that runs one import or export (a ``@task`` whose function takes
    ``run_id``) is in the recovery list, so a claimed-then-orphaned run of any kind is marked failed."""
    import importlib
    import inspect
    import pkgutil

    from django_tasks.base import Task

    import jkfp

    skip = (".tests", ".migrations", ".management", "__main__")
    found: set[str] = set()
    for info in pkgutil.walk_packages(jkfp.__path__, "jkfp."):
        if any(part in info.name for part in skip):
            continue
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            is_task = isinstance(value, Task) and value.func.__module__ == info.name
            if is_task and "run_id" in inspect.signature(value.func).parameters:
                found.add(value.module_path)
    assert "jkfp.settlement.tasks.bank_accounts_import_task" in found  # the walk reaches every app
    assert found == IMPORT_TASKS | {EXPORT_TASK}


@pytest.mark.django_db
def test_a_run_whose_worker_died_before_starting_it_is_marked_failed(make_user: Callable[..., Any]) -> None:
    """The worker claimed the task, then died before the task marked its run running: the run (排队中,
    no runner) is marked failed with its task, not left queued for ever."""
    assert export_task.module_path == EXPORT_TASK and roster_import_task.module_path in IMPORT_TASKS

    def queued() -> ImportRun:
        return ImportRun.objects.create(
            kind=ImportKind.ROSTER, source="国家平台", year=2024, file_name="a.csv"
        )

    owner = make_user(Role.COUNTY_ADMIN, "421321")
    orphan, waiting, taken = queued(), queued(), queued()
    export = ExportRun.objects.create(kind="reconciliation", title="名单比对", user=owner, file_name="a.xlsx")
    dead_import = _claimed(roster_import_task.module_path, orphan.pk, _ended_token())
    dead_export = _claimed(export_task.module_path, export.pk, _ended_token())
    _claimed(roster_import_task.module_path, taken.pk, runner_token())  # a live worker's: untouched
    # A dead worker's task of another kind naming a run id: the run is not its to fail.
    _claimed("jkfp.indicators.tasks.snapshot_refresh_task", waiting.pk, _ended_token())

    recovered = runs_recover()

    assert recovered.imports == [orphan.pk] and recovered.exports == [export.pk]
    assert set(recovered.tasks) >= {str(dead_import.pk), str(dead_export.pk)}
    orphan.refresh_from_db()
    export.refresh_from_db()
    assert orphan.status == ImportStatus.FAILED and orphan.message.startswith(ENDED) and orphan.finished_at
    assert export.status == ExportStatus.FAILED and "没有生成文件" in export.message
    for untouched in (waiting, taken):
        untouched.refresh_from_db()
        assert untouched.status == ImportStatus.QUEUED
    assert DBTaskResult.objects.get(pk=dead_import.pk).status == TaskResultStatus.FAILED
    assert runs_recover() == type(recovered)(imports=[], tasks=[], exports=[])  # nothing left to mark


@pytest.mark.django_db(transaction=True)
def test_the_data_written_mark_commits_with_the_data_and_only_then(county: dict[str, Any]) -> None:
    rolled = _run(runner=runner_token())
    with data_written_marked(rolled.pk), contextlib.suppress(RuntimeError), transaction.atomic():
        Region.objects.filter(code="421321").update(name="随县（改）")
        raise RuntimeError("crash before the commit")
    rolled.refresh_from_db()
    assert rolled.data_written is False and Region.objects.get(code="421321").name == "随县"

    committed = _run(runner=runner_token())
    with data_written_marked(committed.pk):
        with transaction.atomic():
            Region.objects.filter(code="421321").count()  # a read marks nothing
        committed.refresh_from_db()
        assert committed.data_written is False
        with transaction.atomic():
            Region.objects.filter(code="421321").update(name="随县（改）")
    committed.refresh_from_db()
    assert committed.data_written is True


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("written", "note"),
    [(False, "文件中的数据没有写入（写入事务未提交）"), (True, "数据已写入：导入的写入事务已经提交")],
)
def test_the_import_page_says_the_process_ended_and_what_was_written(
    make_user: Callable[..., Any], written: bool, note: str
) -> None:
    admin = make_user(Role.COUNTY_ADMIN, "421321")
    run = _run(runner=_ended_token(), data_written=written, user=admin, region=admin.region)
    runs_recover()
    client = Client()
    client.force_login(admin)
    page = client.get(f"/imports/{run.pk}/").content.decode()
    assert "导入失败" in page and ENDED in page and note in page


def test_the_memory_ceiling_makes_a_greedy_allocation_fail_in_its_process_only() -> None:
    code = (
        "import django, os\nos.environ['DJANGO_SETTINGS_MODULE'] = 'jkfp.settings'\ndjango.setup()\n"
        "from jkfp.ops.worker import memory_ceiling_set\n"
        "memory_ceiling_set(256)\n"
        "try:\n    b = bytearray(512 * 1024 * 1024)\nexcept MemoryError:\n    print('refused')\n"
        "print(len(bytearray(16 * 1024 * 1024)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.stdout.split() == ["refused", str(16 * 1024 * 1024)], done.stderr
    assert memory_ceiling_set(0) is None  # 0: no ceiling, nothing changed


# --------------------------------------------------------------------------- real processes, SIGKILL


def _env(db: Database, home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JKFP_", "DJANGO_", "DATABASE_URL"))}
    env.update(
        DATABASE_URL=db.url, JKFP_HOME=str(home), JKFP_SECRET_KEY=SERVER_SECRET_KEY,
        JKFP_STATIC_ROOT=str(settings.STATIC_ROOT), JKFP_LOG_FILE=str(home / "jkfp.log"), **extra,
    )  # fmt: skip
    home.mkdir(parents=True, exist_ok=True)
    return env


def _until(condition: Callable[[], Any], *, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@contextlib.contextmanager
def _process(argv: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=out, start_new_session=True)
        try:
            yield process
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.mark.django_db(transaction=True)
def test_an_import_killed_with_its_worker_is_marked_failed_by_the_next_worker_start(
    tmp_path: Path, county: dict[str, Any], make_user: Callable[..., Any]
) -> None:
    admin = make_user(Role.COUNTY_ADMIN, "421321")
    villages = [county[f"t{t}v{v}"].code for t in (1, 2) for v in (1, 2)]
    roster = write_roster(tmp_path / "roster.csv", rows=60_000, villages=villages, seed=3)
    run = ImportRun.objects.create(
        kind=ImportKind.ROSTER, source="国家平台", year=2024, file_name="roster.csv",
        stored_path=str(roster.path),
        status=ImportStatus.QUEUED, user=admin, region=admin.region,
    )  # fmt: skip
    task_id = roster_import_task.enqueue(run_id=run.pk).id
    db = Database(tmp_path)
    db.publish()
    env = _env(db, tmp_path / "home")
    worker = [sys.executable, "-m", "jkfp.cli", "worker", "--interval", "0.1"]

    def state() -> tuple[str, int, Any, str]:
        rows = db.rows(
            "SELECT status, progress, data_written, runner FROM registry_importrun WHERE id = %s", (run.pk,)
        )
        return rows[0] if rows else ("", 0, False, "")

    with _process(worker, env, tmp_path / "first.log") as first:
        _until(
            lambda: state()[0] == "running" and state()[1] >= 20,
            timeout=120,
            what="the import to be under way",
        )
        os.killpg(first.pid, signal.SIGKILL)  # kill -9 mid-import
        first.wait(timeout=30)
    db.wait_until_idle()
    status, progress, written, runner = state()
    assert status == "running" and str(first.pid) == runner.split(":")[0], "the dead run still says 导入中"

    started = time.monotonic()
    with _process(worker, env, tmp_path / "second.log"):
        _until(lambda: state()[0] == "failed", timeout=60, what="the next worker start to mark the run")
    took = time.monotonic() - started
    message, finished = db.rows(
        "SELECT message, finished_at FROM registry_importrun WHERE id = %s", (run.pk,)
    )[0]
    assert message.startswith(ENDED) and finished is not None
    task = db.rows("SELECT status, exception_class_path FROM django_tasks_database_dbtaskresult WHERE id = %s",
                   (str(task_id).replace("-", "") if db.file else str(task_id),))  # fmt: skip
    assert task == [("FAILED", TASK_ENDED)]
    # Whatever the transaction did: all of the roster or nothing, as the run's mark says.
    persons = db.rows("SELECT COUNT(*) FROM registry_person")[0][0]
    assert persons == (roster.persons if bool(written) else 0), (persons, written, progress)
    print(
        f"\nkilled at {progress}%, data written: {bool(written)}; marked 失败 {took:.1f} s after the next start"
    )


def _get(port: int, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    except OSError:
        return 0
    finally:
        conn.close()


@pytest.mark.django_db(transaction=True)
def test_serve_restarts_a_killed_worker_and_a_killed_web_server(tmp_path: Path) -> None:
    db = Database(tmp_path)
    db.publish()
    port = free_port()
    serve = [
        sys.executable,
        "-m",
        "jkfp.cli",
        "serve",
        "--port",
        str(port),
        "--workers",
        "1",
        "--threads",
        "2",
    ]
    with _process(serve, _env(db, tmp_path / "home"), tmp_path / "serve.log") as site:
        _until(lambda: _get(port, "/login/") == 200, timeout=60, what="the site")

        def child(word: str) -> int | None:
            return next((c for c in _children(site.pid) if word in _cmdline(c)), None)

        worker = _until(lambda: child(" worker"), timeout=30, what="the worker")
        os.kill(worker, signal.SIGKILL)
        again = _until(lambda: (c := child(" worker")) and c != worker and c, timeout=30, what="a new worker")
        assert site.poll() is None and _get(port, "/login/") == 200
        assert again != worker

        web = _until(lambda: child("gunicorn"), timeout=10, what="gunicorn")
        os.kill(web, signal.SIGKILL)
        _until(lambda: (c := child("gunicorn")) and c != web, timeout=30, what="a new gunicorn")
        _until(lambda: _get(port, "/login/") == 200, timeout=60, what="the site again")
        assert site.poll() is None
    log = (tmp_path / "serve.log").read_text()
    assert "意外退出" in log and "已重新启动" in log


@pytest.mark.django_db(transaction=True)
def test_the_worker_s_periodic_check_marks_a_run_whose_process_ended(settings: Any, tmp_path: Path) -> None:
    from jkfp.ops.worker import Heartbeat

    settings.RUN_DIR = tmp_path / "run"
    dead = _run(runner=_ended_token())
    beat = Heartbeat(interval=0.05, recovery=0.0)
    beat.start()
    try:
        _until(
            lambda: ImportRun.objects.get(pk=dead.pk).status == ImportStatus.FAILED,
            timeout=30,
            what="the periodic check",
        )
    finally:
        beat.stop()
        beat.join(timeout=10)
    assert ImportRun.objects.get(pk=dead.pk).message.startswith(ENDED)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("valid", [True, False])
def test_a_finished_import_is_marked_written_exactly_when_it_wrote(
    tmp_path: Path, county: dict[str, Any], make_user: Callable[..., Any], valid: bool
) -> None:
    from jkfp.core.idnumber import make_id_number

    admin = make_user(Role.COUNTY_ADMIN, "421321")
    number = make_id_number("421321", timezone.localdate().replace(year=1960), 101)
    village = county["t1v1"].code if valid else "999999999999"  # an unknown village: no valid row
    path = tmp_path / "roster.csv"
    path.write_text(
        f"身份证号,姓名,村代码,户编号,与户主关系\n{number},张三,{village},H1,户主\n", encoding="utf-8"
    )
    run = ImportRun.objects.create(
        kind=ImportKind.ROSTER, source="国家平台", year=2024, file_name="roster.csv", stored_path=str(path),
        status=ImportStatus.QUEUED, user=admin, region=admin.region,
    )  # fmt: skip
    roster_import_task.call(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == ImportStatus.DONE and run.runner.startswith(f"{os.getpid()}:")
    assert run.data_written is valid
    assert Person.objects.filter(id_number=number).exists() is valid

"""只读副本 Reads from a PostgreSQL streaming replica — the one home of replica routing.

With ``DATABASE_REPLICA_URL`` set, ``settings`` adds the database alias ``replica`` and installs
:class:`ReplicaRouter`. Then:

- the read-only pages (dashboards, drill-downs, ledgers, reports, exports) are marked with
  :func:`replica_reads` (code outside a view: ``with reading_replica(): …``); their reads go to the
  replica while it is up and its lag is within ``JKFP_REPLICA_MAX_LAG_SECONDS``;
- everything else reads the primary: every write, every read outside such a page, every read inside a
  transaction on the primary, and every page of a browser that wrote within the last
  ``JKFP_REPLICA_MAX_LAG_SECONDS`` (:class:`ReadYourWritesMiddleware` gives it a cookie) — so a page
  always sees its own writes;
- the replica's state (reachable, in recovery, replay lag) is checked at most every
  ``JKFP_REPLICA_CHECK_SECONDS`` per process (two one-row queries); when it is down or lags, reads fall
  back to the primary; a replica that fails in the middle of a page is marked down and the page is
  served again from the primary.

Without ``DATABASE_REPLICA_URL`` (SQLite, the default, or one PostgreSQL) all of this is a no-op.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar, cast

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, OperationalError, connections
from django.http import HttpRequest, HttpResponseBase

log = logging.getLogger("jkfp.replica")

REPLICA_DB_ALIAS = "replica"
# Set on a browser that wrote (any non-GET request): its pages read the primary while it lasts.
PRIMARY_COOKIE = "jkfp_primary"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_wanted: ContextVar[bool] = ContextVar("jkfp_replica_wanted", default=False)
_served: ContextVar[list[bool] | None] = ContextVar("jkfp_replica_served", default=None)


def replica_configured() -> bool:
    """True when ``DATABASE_REPLICA_URL`` gave a replica alias."""
    return REPLICA_DB_ALIAS in settings.DATABASES


@dataclass(frozen=True)
class ReplicaState:
    """副本状态 The last check of the replica: usable or not, its lag in seconds, and why."""

    usable: bool
    lag_seconds: float | None
    reason: str
    checked_at: float


_lock = threading.Lock()
_state: ReplicaState | None = None


def _probe() -> ReplicaState:
    """Ask the replica how far it has replayed and the primary where its WAL is (one row each)."""
    now = time.monotonic()
    try:
        with connections[REPLICA_DB_ALIAS].cursor() as cursor:
            cursor.execute(
                "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text,"
                " EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8"
            )
            in_recovery, replay_lsn, since_replay = cursor.fetchone()
    except OperationalError as exc:
        connections[REPLICA_DB_ALIAS].close()
        return ReplicaState(False, None, f"副本不可达 replica unreachable: {str(exc).strip()[:200]}", now)
    if not in_recovery or replay_lsn is None:
        return ReplicaState(False, None, "副本不是热备库 the replica is not a standby in recovery", now)
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s::pg_lsn)::float8", [replay_lsn])
        (behind_bytes,) = cursor.fetchone()
    if behind_bytes <= 0:
        return ReplicaState(True, 0.0, "副本已追平 replica caught up", now)
    # Behind: the lag is the age of the last transaction it replayed (unknown: treated as infinite).
    lag = math.inf if since_replay is None else max(0.0, float(since_replay))
    limit = float(settings.REPLICA_MAX_LAG_SECONDS)
    if lag > limit:
        return ReplicaState(False, lag, f"副本延迟{lag:.1f}秒，超过{limit:g}秒 replica lags", now)
    return ReplicaState(True, lag, f"副本延迟{lag:.1f}秒 replica lag within limit", now)


def replica_state(*, force: bool = False) -> ReplicaState:
    """The replica's state, checked at most every ``REPLICA_CHECK_SECONDS`` in this process."""
    global _state
    with _lock:
        state = _state
        fresh = state is not None and time.monotonic() - state.checked_at < settings.REPLICA_CHECK_SECONDS
        if state is not None and fresh and not force:
            return state
        state = _probe()
        if _state is None or state.usable != _state.usable:
            log.warning("replica %s: %s", "in use" if state.usable else "not used", state.reason)
        _state = state
        return state


def replica_mark_down(reason: str) -> None:
    """Stop using the replica until the next check (a query on it failed)."""
    global _state
    with _lock:
        _state = ReplicaState(False, None, reason, time.monotonic())
    log.warning("replica not used: %s", reason)


def _use_replica() -> bool:
    if not _wanted.get() or not replica_configured():
        return False
    # Inside a transaction on the primary a read must see that transaction's writes.
    if connections[DEFAULT_DB_ALIAS].in_atomic_block:
        return False
    if not replica_state().usable:
        return False
    served = _served.get()
    if served is not None and not served:
        served.append(True)
    return True


class ReplicaRouter:
    """Reads inside :func:`reading_replica` go to a usable replica; all else to the primary."""

    def db_for_read(self, model: type[Any], **hints: Any) -> str:
        return REPLICA_DB_ALIAS if _use_replica() else DEFAULT_DB_ALIAS

    def db_for_write(self, model: type[Any], **hints: Any) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True  # the replica holds the same rows as the primary

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db == DEFAULT_DB_ALIAS


@contextmanager
def reading_replica() -> Iterator[None]:
    """Let the reads inside go to the replica (when one is configured, up and within the lag limit)."""
    token = _wanted.set(True)
    try:
        yield
    finally:
        _wanted.reset(token)


View = TypeVar("View", bound=Callable[..., HttpResponseBase])


def replica_reads(view: View) -> View:
    """Mark a read-only page: its reads may come from the replica (see the module's docstring).

    A browser that wrote recently (the :data:`PRIMARY_COOKIE`) reads the primary. When the replica
    fails during the page, it is marked down and the page runs again on the primary.
    """

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not replica_configured() or request.COOKIES.get(PRIMARY_COOKIE):
            return view(request, *args, **kwargs)
        served: list[bool] = []
        served_token = _served.set(served)
        try:
            with reading_replica():
                return view(request, *args, **kwargs)
        except OperationalError as exc:
            if not served:
                raise
            replica_mark_down(f"副本查询失败 a query on the replica failed: {str(exc).strip()[:200]}")
            connections[REPLICA_DB_ALIAS].close()
            return view(request, *args, **kwargs)
        finally:
            _served.reset(served_token)

    return cast(View, wrapped)


class ReadYourWritesMiddleware:
    """After a request that may have written (not GET/HEAD/OPTIONS), the browser reads the primary for
    ``REPLICA_MAX_LAG_SECONDS`` (a cookie): the page after a form sees what the form saved."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if replica_configured() and request.method not in SAFE_METHODS:
            response.set_cookie(
                PRIMARY_COOKIE,
                "1",
                max_age=max(1, math.ceil(float(settings.REPLICA_MAX_LAG_SECONDS))),
                httponly=True,
                samesite="Lax",
                secure=bool(getattr(settings, "SESSION_COOKIE_SECURE", False)),
            )
        return response

"""时钟 The clock of the Django-free modules (``jkfp settle``, the ID-number check, report names).

Django code reads the time through ``django.utils.timezone`` (``localdate()``, ``now()``: the
project's time zone, Asia/Shanghai). Code that must run without Django settings reads this
timezone-aware clock: the machine's local time zone, never a naive ``date.today()``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime


def local_now() -> datetime:
    """Now, aware, in the machine's local time zone."""
    return datetime.now(UTC).astimezone()


def local_today() -> date:
    """Today in the machine's local time zone."""
    return local_now().date()

"""Template helpers of the person lists."""

from __future__ import annotations

from datetime import date, timedelta
from types import SimpleNamespace

from django.utils import timezone

from jkfp.registry.models import TagCode
from jkfp.web.templatetags.jkfp_web import active_tag_labels


def _tag(code: str, start: date, end: date | None = None) -> SimpleNamespace:
    return SimpleNamespace(start_on=start, end_on=end, get_code_display=lambda: TagCode(code).label)


def test_active_tag_labels_are_distinct_and_only_active_today() -> None:
    today = timezone.localdate()
    tags = [
        _tag("poor", date(2020, 1, 1)),
        _tag("poor", date(2021, 1, 1)),  # the same category from a second list
        _tag("dibao", date(2020, 1, 1), today - timedelta(days=1)),  # dropped by a later list
        _tag("tekun", today + timedelta(days=1)),  # not yet in force
        _tag("disabled", date(2020, 1, 1), today),  # ends today: still active
    ]
    assert active_tag_labels(tags) == ["建档立卡/脱贫", "残疾"]

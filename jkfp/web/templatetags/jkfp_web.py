"""页面过滤器 Template filters of the web pages."""

from __future__ import annotations

from typing import Any

from django import template
from django.core.exceptions import FieldDoesNotExist
from django.utils import timezone

from jkfp.accounts.permissions import allowed
from jkfp.core.idnumber import mask, mask_text
from jkfp.registry.models import Person

register = template.Library()


@register.filter
def may(user: Any, url_name: str) -> bool:
    """可访问 ``{% if user|may:'care:escalated' %}``: the permission matrix lets the user reach the URL
    (``accounts.permissions.allowed``) — every link, tab and card a page shows by role asks here."""
    return allowed(user, url_name)


@register.filter
def mask_id(value: str | None) -> str:
    """脱敏身份证号 First 6 and last 4 characters shown."""
    return mask(value or "")


@register.filter
def mask_ids_in(value: Any) -> str:
    """文本脱敏 Every ID-number-shaped run in a cell masked (the import preview's rows and errors)."""
    return mask_text(str(value if value is not None else ""))


def _person_field(name: str) -> Any:

    try:
        return Person._meta.get_field(name)
    except FieldDoesNotExist:
        return None


@register.filter
def field_label(name: str) -> str:
    """字段中文名 The Chinese label of a person field named in the change history."""
    field = _person_field(name)
    return str(getattr(field, "verbose_name", "") or name)


@register.filter
def choice_label(value: str, name: str) -> str:
    """取值中文 A stored choice value (e.g. ``confirmed``) shown as its label (已核准)."""
    field = _person_field(name)
    choices = dict(getattr(field, "choices", None) or ())
    return str(choices.get(value, value))


@register.filter
def active_tag_labels(tags: Any) -> list[str]:
    """当前人员类别 The distinct labels of a person's tags active today, in order.

    One tag row is kept per source list, so the same category may appear several times; a list
    of persons shows each category once. ``tags`` is the prefetched ``person.tags.all``.
    """
    today = timezone.localdate()
    labels: dict[str, None] = {}
    for tag in tags:
        if tag.start_on <= today and (tag.end_on is None or tag.end_on >= today):
            labels.setdefault(tag.get_code_display(), None)
    return list(labels)


@register.filter
def get_item(mapping: Any, key: Any) -> Any:
    """字典取值 ``mapping[key]`` in a template (None when absent)."""
    if not hasattr(mapping, "get"):
        return None
    return mapping.get(key)

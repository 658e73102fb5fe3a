"""运维记录 What the operation of an installation records in its database."""

from __future__ import annotations

from django.db import models


class DemoStamp(models.Model):
    """示例数据标记 Written by ``jkfp demo`` when it builds the demo county in an empty database.

    ``jkfp demo`` (and ``--reset``) run only on a database that has this stamp or holds nothing at all,
    so a real county's data — even under the demo's county code — is never overwritten or deleted.
    """

    county_code = models.CharField("示例县代码", max_length=6)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = "示例数据标记"
        verbose_name_plural = "示例数据标记"

    def __str__(self) -> str:
        return f"示例县 {self.county_code}（{self.created_at:%Y-%m-%d}）"

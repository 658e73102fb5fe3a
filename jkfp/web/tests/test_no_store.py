"""不缓存 ``Cache-Control: no-store`` on every page and file shown to a signed-in user (issue 17 §8).

The permission-matrix test (``test_permission_matrix``) checks the header on every URL × role it
walks; these check the kinds of response one by one: a page, an htmx fragment, an .xlsx export, a
redirect, and that anonymous pages keep their own caching.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from jkfp.ops.models import ExportRun
from jkfp.web.tests.exporting import run_exports

pytestmark = pytest.mark.django_db


def _no_store(response: Any) -> bool:
    directives = {d.strip() for d in response.get("Cache-Control", "").split(",")}
    return {"no-store", "private"} <= directives


def test_person_page_reveal_and_export_are_never_stored(client: Client, world: Any, login: Any) -> None:
    login(world.users["admin"])
    person = world.persons["zhang"]
    page = client.get(reverse("web:person_detail", args=[person.pk]))
    assert page.status_code == 200 and person.name in page.content.decode()
    assert _no_store(page)
    reveal = client.post(reverse("web:person_reveal", args=[person.pk]), HTTP_HX_REQUEST="true")
    assert reveal.status_code == 200 and person.id_number in reveal.content.decode()
    assert _no_store(reveal)
    # The export is written in the background (issue 17 §7): the queueing, the list and the file.
    queued = client.post(reverse("web:reconciliation_export"))
    assert queued.status_code == 302 and _no_store(queued)
    assert run_exports() == 1
    assert _no_store(client.get(reverse("web:export_list")))
    run = ExportRun.objects.get()
    export: Any = client.get(reverse("web:export_download", args=[run.pk]))
    assert export.status_code == 200 and export["Content-Type"].startswith("application/vnd.openxml")
    assert _no_store(export)
    assert b"".join(export.streaming_content)[:2] == b"PK"  # the .xlsx itself
    # Even a redirect after a change carries it (the next page is the user's).
    assert _no_store(client.post(reverse("web:logout")))

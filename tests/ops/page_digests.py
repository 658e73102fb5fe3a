"""Print a digest of the pages an administrator and a village doctor see (run by tests in a subprocess).

Each page is fetched with Django's test client against the database of the environment
(``DATABASE_URL``, ``JKFP_HOME``); CSRF tokens, which are random per request, are blanked.
Prints ``{"<user> <url>": "<sha256>"}`` as JSON.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jkfp.settings")

import django

django.setup()

from django.test import Client  # noqa: E402

from jkfp.accounts.models import User  # noqa: E402
from jkfp.registry.models import Person  # noqa: E402

TOKEN = re.compile(r'(csrfmiddlewaretoken" value="|"X-CSRFToken": ")[^"]+')
PAGES = {
    "demo-admin": [
        "/",
        "/persons/?q=%E5%BC%A0",
        "/reconciliation/",
        "/indicators/",
        "/settlement/",
        "/monitoring/",
    ],
    "demo-doctor": ["/care/"],
}


def main() -> int:
    digests = {}
    person = Person.objects.order_by("id").values_list("id", flat=True).first()
    for username, urls in PAGES.items():
        client = Client()
        client.force_login(
            User.objects.get(username=username), backend="django.contrib.auth.backends.ModelBackend"
        )
        for url in [*urls, *([f"/persons/{person}/"] if username == "demo-admin" else [])]:
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            html = TOKEN.sub(r"\1", response.content.decode())
            digests[f"{username} {url}"] = hashlib.sha256(html.encode()).hexdigest()
    json.dump(digests, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())

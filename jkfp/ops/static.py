"""静态文件 Collect the static files once: hashed names, gzip and brotli copies, a manifest.

``static_collect`` runs Django's ``collectstatic`` (whitenoise's ``CompressedManifestStaticFilesStorage``)
only when the sources changed since the last collection: a fingerprint of every source file's name and
content, and of the storage settings, is kept beside the manifest in ``STATIC_ROOT``. So ``jkfp init``
collects once, ``jkfp serve`` starts at once, and a release bundle's prebuilt static folder (built from
the same files) is recognised as current by the installed package.

How a file gets in: the project's own files live in ``jkfp/web/static/web/``; files from npm are named
in package.json's ``jkfpStatic`` (copied into ``jkfp/web/static/vendor/`` by scripts/vendor_static.py).
Pages refer to them with ``{% static %}``; tests/test_static.py fails when a collected file is used
by no page or a page names a file that is not collected.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.finders import AppDirectoriesFinder
from django.core.management import call_command

# Apps whose static files no page loads: django-htmx ships copies of htmx (we serve npm's, package.json).
UNUSED_STATIC_APPS = frozenset({"django_htmx"})
STAMP_NAME = ".jkfp-static-fingerprint"
MANIFEST_NAME = "staticfiles.json"


class PageStaticFinder(AppDirectoriesFinder):
    """The apps' ``static/`` folders, except those of ``UNUSED_STATIC_APPS`` (STATICFILES_FINDERS)."""

    def __init__(self, app_names: Any = None, *args: Any, **kwargs: Any) -> None:
        names = [config.name for config in apps.get_app_configs() if config.name not in UNUSED_STATIC_APPS]
        super().__init__(names if app_names is None else app_names, *args, **kwargs)


def static_fingerprint() -> str:
    """指纹 SHA-256 over the storage settings and every source file's name and content."""
    digest = hashlib.sha256(
        json.dumps(
            [
                settings.STORAGES["staticfiles"],
                getattr(settings, "WHITENOISE_KEEP_ONLY_HASHED_FILES", False),
                settings.STATIC_URL,
            ],
            sort_keys=True,
            default=str,
        ).encode()
    )
    found: dict[str, Path] = {}
    for finder in finders.get_finders():
        for name, storage in finder.list([]):
            found.setdefault(name, Path(storage.path(name)))
    for name in sorted(found):
        digest.update(name.encode() + b"\0")
        digest.update(hashlib.sha256(found[name].read_bytes()).digest())
    return digest.hexdigest()


def static_is_current(*, root: Path | None = None) -> bool:
    """True when ``root`` (STATIC_ROOT) holds a manifest collected from the current sources."""
    root = Path(root or settings.STATIC_ROOT)
    stamp = root / STAMP_NAME
    return (
        (root / MANIFEST_NAME).is_file()
        and stamp.is_file()
        and stamp.read_text().strip() == static_fingerprint()
    )


def static_collect(*, force: bool = False) -> bool:
    """收集静态文件 Collect into STATIC_ROOT unless it is current; True when a collection ran."""
    root = Path(settings.STATIC_ROOT)
    if not force and static_is_current(root=root):
        return False
    fingerprint = static_fingerprint()
    for child in root.iterdir() if root.is_dir() else ():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    call_command("collectstatic", interactive=False, verbosity=0)
    (root / STAMP_NAME).write_text(fingerprint + "\n")
    return True

"""`make bundle`: the offline release bundle ``dist/jkfp-<version>-linux-x86_64.tar.gz``.

Run on a machine that reaches the package registries (after ``make install``). The bundle holds:

- ``wheels/``: jkfp's wheel and a wheel of every *runtime* dependency (no test or lint tools: those
  are the ``dev`` extra) at the versions this checkout was tested with (``pip freeze`` of .venv as
  constraints), for CPython 3.11, 3.12 and 3.13 on x86-64 Linux;
- ``static/``: the collected static files (hashed names, gzip and brotli copies, only what pages use);
- ``fonts/``: Noto Sans CJK SC (the Simplified-Chinese face taken from Debian's fonts-noto-cjk
  collection), so PDFs show Chinese on a server without CJK fonts;
- ``install.sh PREFIX``: installs with ``pip --no-index`` and nothing else from outside;
- ``deploy/`` (nginx site, systemd units, logrotate, environment file), ``docs/``, ``CHANGELOG.md``,
  ``README.md`` and ``SHA256SUMS``.

pip's cache is used (``make install`` filled it), so a second build downloads nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHONS = ("3.11", "3.12", "3.13")
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux1_x86_64",
             "linux_x86_64")  # fmt: skip
CJK_COLLECTION = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
CJK_FAMILY = "Noto Sans CJK SC"
SHIPPED = ("install.sh", "CHANGELOG.md", "README.md")


def version() -> str:
    namespace: dict[str, str] = {}
    exec((ROOT / "jkfp" / "__init__.py").read_text(), namespace)  # noqa: S102 (our own file)
    return namespace["__version__"]


def run(*command: str, env: dict[str, str] | None = None) -> None:
    subprocess.run(command, check=True, cwd=ROOT, env=env)


def constraints(work: Path) -> Path:
    """The versions .venv was tested with, jkfp itself left out."""
    frozen = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--exclude-editable"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = work / "constraints.txt"
    path.write_text(
        "\n".join(line for line in frozen.splitlines() if not line.lower().startswith("jkfp")) + "\n"
    )
    return path


def build_wheels(target: Path, work: Path, pythons: tuple[str, ...]) -> None:
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    run(*pip, "wheel", "--quiet", "--no-deps", "--wheel-dir", str(target), str(ROOT))
    shutil.rmtree(ROOT / "build", ignore_errors=True)  # setuptools' scratch copy of the package
    (jkfp_wheel,) = target.glob("jkfp-*.whl")
    limits = str(constraints(work))
    for python in pythons:
        platform_args = [arg for p in PLATFORMS for arg in ("--platform", p)]
        run(*pip, "download", "--quiet", "--only-binary=:all:", "--python-version", python,
            "--implementation", "cp", *platform_args, "--dest", str(target), "-c", limits, str(jkfp_wheel))  # fmt: skip


def build_static(target: Path, work: Path) -> None:
    env = {
        **os.environ,
        "JKFP_HOME": str(work),
        "JKFP_STATIC_ROOT": str(target),
        "DJANGO_SETTINGS_MODULE": "jkfp.settings",
    }
    env.pop("DATABASE_URL", None)
    code = "import django; django.setup(); from jkfp.ops.static import static_collect; static_collect(force=True)"
    run(sys.executable, "-c", code, env=env)


def build_font(target: Path) -> None:
    """The Simplified-Chinese face of Debian's Noto Sans CJK collection, as one OpenType file."""
    from fontTools.ttLib import TTCollection

    target.mkdir(parents=True, exist_ok=True)
    collection = TTCollection(str(CJK_COLLECTION), lazy=True)
    for font in collection.fonts:
        if font["name"].getDebugName(1) == CJK_FAMILY:
            font.save(str(target / "NotoSansCJKsc-Regular.otf"))
            return
    raise SystemExit(f"{CJK_COLLECTION} has no {CJK_FAMILY} face (install fonts-noto-cjk)")


def sha256sums(folder: Path) -> None:
    lines = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        lines.append(f"{digest}  {path.relative_to(folder).as_posix()}")
    (folder / "SHA256SUMS").write_text("\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="folder for the bundle (dist)")
    parser.add_argument("--python", action="append", choices=PYTHONS, help="only these Python versions")
    options = parser.parse_args()
    started = time.perf_counter()
    name = f"jkfp-{version()}"
    options.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="jkfp-bundle-") as scratch:
        work = Path(scratch)
        stage = work / name
        stage.mkdir()
        steps = (
            ("wheels", lambda: build_wheels(stage / "wheels", work, tuple(options.python or PYTHONS))),
            ("static", lambda: build_static(stage / "static", work / "home")),
            ("font", lambda: build_font(stage / "fonts")),
        )
        for label, step in steps:
            began = time.perf_counter()
            step()
            print(f"bundle: {label} {time.perf_counter() - began:.1f} s", flush=True)
        for item in SHIPPED:
            shutil.copy2(ROOT / ("scripts/install.sh" if item == "install.sh" else item), stage / item)
        (stage / "install.sh").chmod(0o755)
        shutil.copytree(ROOT / "deploy", stage / "deploy")
        shutil.copytree(ROOT / "docs", stage / "docs")
        (stage / "VERSION").write_text(version() + "\n")
        sha256sums(stage)
        archive = options.out / f"{name}-linux-x86_64.tar.gz"
        partial = archive.with_name(archive.name + ".partial")
        # The wheels are compressed already: gzip level 1 saves time, not space.
        with tarfile.open(partial, "w:gz", compresslevel=1) as tar:
            tar.add(stage, arcname=name)
        partial.replace(archive)
    size = archive.stat().st_size
    print(f"bundle: {archive} ({size / 1e6:.1f} MB) in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

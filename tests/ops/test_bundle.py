"""离线发布包 The release bundle installs and runs with no package index, no node_modules, no network.

The test builds the bundle (scripts/bundle.py, as `make bundle`; wheels for the running Python only —
`make bundle` adds 3.12 and 3.13), unpacks it in a temporary folder, and — inside a network namespace
that has nothing but loopback (``unshare -n``), so any download would fail — runs ``install.sh``
(``pip --no-index``), ``jkfp init`` and ``jkfp check --deploy`` with the production environment.
Then it starts ``jkfp serve`` (site and worker) and gets 200 from /healthz and a styled page whose
CSS is served hashed, compressed and cached for a year.

It runs once, in the SQLite pass: building and installing the bundle does not depend on the database
the suite runs on (the installation has its own SQLite database).
"""

from __future__ import annotations

import getpass
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import jkfp

ROOT = Path(__file__).resolve().parents[2]
ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith("postgres")
HOST = "jkfp.example.gov.cn"


def _offline() -> list[str]:
    """The prefix that runs a command in a network namespace with only loopback (none if unshare is refused)."""
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False)
    return ["unshare", "-n"] if probe.returncode == 0 else []


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers={"Host": HOST, "X-Forwarded-Proto": "https", **headers})  # noqa: S310 (http on loopback)

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


@pytest.mark.skipif(ON_POSTGRES, reason="builds and installs the bundle once: runs in the SQLite pass")
def test_bundle_installs_offline_and_serves(tmp_path: Path) -> None:
    python = shutil.which("python3") or sys.executable
    built = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bundle.py"), "--out", str(tmp_path / "dist"),
         "--python", f"{sys.version_info.major}.{sys.version_info.minor}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    (archive,) = (tmp_path / "dist").glob("jkfp-*-linux-x86_64.tar.gz")
    assert archive.name == f"jkfp-{jkfp.__version__}-linux-x86_64.tar.gz"
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    bundle = tmp_path / "unpacked" / f"jkfp-{jkfp.__version__}"
    wheels = {p.name.split("-")[0].lower() for p in (bundle / "wheels").glob("*.whl")}
    assert {"jkfp", "django", "gunicorn", "psycopg_binary", "weasyprint"} <= wheels
    assert not wheels & {"pytest", "ruff", "mypy", "playwright", "hypothesis"}, "no test or lint tools"
    assert list((bundle / "fonts").glob("*.otf")) and (bundle / "static" / "staticfiles.json").is_file()
    assert not any((bundle / "static").rglob("*.map")), "only what the pages use"

    prefix, data = tmp_path / "opt-jkfp", tmp_path / "data"
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "DATABASE_URL", "JKFP_", "DJANGO_"))
    }
    # This test serves the installation as the user running it, not as a jkfp service user.
    env.update(PYTHON=python, PIP_CONFIG_FILE="/dev/null", HOME=str(tmp_path), JKFP_USER=getpass.getuser())
    production = (
        f"JKFP_DATA_DIR={data}\nJKFP_STATIC_ROOT={prefix}/static\nJKFP_ALLOWED_HOSTS={HOST}\nJKFP_HTTPS=1\n"
        f"JKFP_LOG_LEVEL=INFO\nJKFP_LOG_FILE={tmp_path}/jkfp.log\n"
    )
    script = f"""set -e
ip link set lo up 2>/dev/null || true
cd {tmp_path}
{bundle}/install.sh {prefix}
printf '%s' '{production}' > {prefix}/jkfp.env
{prefix}/bin/jkfp init
{prefix}/bin/jkfp check --deploy --fail-level WARNING
printf 'Zx9!long-pass\\n' | {prefix}/bin/jkfp createuser --username it-admin --role county_admin --region 421321 --password-stdin || true
"""
    done = subprocess.run(
        [*_offline(), "sh", "-c", script], env=env, capture_output=True, text=True, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "System check identified no issues" in output, output
    assert "数据库已就绪" in output and "已收集静态文件" not in output, (
        "the bundle's static files were current"
    )
    installed = subprocess.run([str(prefix / "venv" / "bin" / "python"), "-c", "import jkfp; print(jkfp.__file__)"],
                               capture_output=True, text=True, env=env, cwd=tmp_path, check=True).stdout  # fmt: skip
    assert installed.startswith(str(prefix)), "the package runs from the installation, not from this checkout"

    port = _free_port()
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        [str(prefix / "bin" / "jkfp"), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        health: dict[str, object] = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                status, _, body = _get(f"{base}/healthz")
            except OSError:
                status = 0
            if status == 200:
                health = json.loads(body)
                break
            time.sleep(0.5)
        assert health.get("status") == "ok", (health, (tmp_path / "serve.log").read_text())
        assert health["version"] == jkfp.__version__ and health["worker"]["ok"]  # type: ignore[index]

        assert _get(f"{base}/login/", **{"X-Forwarded-Proto": "http"})[0] == 301, "plain HTTP goes to HTTPS"
        status, headers, page = _get(f"{base}/login/")
        assert status == 200 and "登录健康扶贫管理系统" in page.decode()
        styles = re.findall(r'<link rel="stylesheet" href="([^"]+)"', page.decode())
        assert styles and all(re.search(r"\.[0-9a-f]{12}\.css$", s) for s in styles), styles
        for href in styles:
            status, headers, body = _get(f"{base}{href}", **{"Accept-Encoding": "br, gzip"})
            assert status == 200 and headers["Content-Type"].startswith("text/css"), href
            assert headers.get("Content-Encoding") == "br", headers
            assert "immutable" in headers.get("Cache-Control", ""), headers
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
    assert not list(Path(data / "run").glob("worker-*.beat")), "the worker stopped cleanly"

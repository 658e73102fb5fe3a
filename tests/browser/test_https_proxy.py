"""经 HTTPS 反向代理 A browser through a real nginx (Debian's) with TLS, as a county deploys it.

The site runs as in production — ``jkfp serve`` (gunicorn and the worker) with the documented
environment (``JKFP_HTTPS=1``, allowed host, data directory) on its own SQLite database — behind
nginx started on a free loopback port with deploy/nginx/jkfp.conf (only its names, ports and paths
replaced) and a self-signed certificate made by openssl. Headless Chromium logs in over HTTPS,
uploads a 20 MB roster, watches the worker finish the import, downloads a ledger and logs out: no
CSRF failure, and the cookies are ``Secure`` and ``HttpOnly``.

It runs once, in the SQLite pass: the proxy, TLS, CSRF and cookies do not depend on the database (the
site under test has its own), and the PostgreSQL pass would only repeat it.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.conf import settings

from jkfp.core.idnumber import make_id_number
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, PHONE_VIEWPORT, open_menu

ROOT = Path(__file__).resolve().parents[2]
ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith("postgres")
PASSWORD = "Zx9!long-pass"
ROSTER_BYTES = 20 * 1024 * 1024
VILLAGES = ("421321001001", "421321001002")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        ON_POSTGRES, reason="the proxy does not depend on the database: runs in the SQLite pass"
    ),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _roster(path: Path) -> int:
    """A roster CSV of at least 20 MB: valid ID numbers, two villages, households of three, and the
    home address and note columns a county's list carries besides ours (ignored by the import)."""
    rows = 0
    born = date(1940, 1, 1)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["身份证号", "姓名", "村代码", "户编号", "与户主关系", "人员类别", "患病情况", "联系电话"]
        )
        while handle.tell() < ROSTER_BYTES:
            day, serial = divmod(rows, 1000)
            relation = ("户主", "配偶", "子女")[rows % 3]
            writer.writerow([
                make_id_number("421321", born + timedelta(days=day), serial), f"测试居民{rows:06d}",
                VILLAGES[(rows // 3) % 2], f"HH{rows // 3:07d}", relation, "脱贫、低保",
                "高血压" if rows % 7 == 0 else "", f"139{rows:08d}",
                f"湖北省随州市随县第1镇{(rows // 3) % 2 + 1}村{rows // 3 % 40 + 1}组{rows // 3:05d}号",
                "2026年春季入户核实：家庭成员、收入与参保情况属实；签约家庭医生，按季度随访；" * 3,
            ])  # fmt: skip
            rows += 1
    return rows


@pytest.fixture
def site(tmp_path: Path) -> Iterator[dict[str, object]]:
    """jkfp in production mode behind nginx with TLS; yields the HTTPS address and the installation."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(nginx).exists(), "nginx is installed by scripts/system-deps.sh"
    app_port, tls_port, http_port = _free_port(), _free_port(), _free_port()
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "JKFP_", "DJANGO_"))}
    env.update(
        JKFP_HOME=str(tmp_path), JKFP_DATA_DIR=str(data), JKFP_STATIC_ROOT=str(settings.STATIC_ROOT),
        JKFP_ALLOWED_HOSTS="localhost", JKFP_HTTPS="1", JKFP_LOG_LEVEL="INFO",
    )  # fmt: skip
    jkfp = [sys.executable, "-m", "jkfp.cli"]

    def run(*args: str, stdin: str = "") -> None:
        done = subprocess.run(
            [*jkfp, *args], env=env, cwd=tmp_path, input=stdin, capture_output=True, text=True
        )
        assert done.returncode == 0, f"{args}: {done.stdout}{done.stderr}"

    run("init")
    regions = tmp_path / "regions.csv"
    regions.write_text(
        "代码,名称,上级代码,级别\n421321,随县,,县\n421321001000,第1镇,421321,乡镇\n"
        + "".join(f"{v},第1镇{i + 1}村,421321001000,村\n" for i, v in enumerate(VILLAGES)),
        encoding="utf-8",
    )
    run("import-regions", str(regions))
    run("createuser", "--username", "it-admin", "--role", "county_admin", "--region", "421321",
        "--full-name", "县管理员", "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip

    certs = tmp_path / "ssl"
    certs.mkdir()
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
         "-keyout", str(certs / "jkfp.key"), "-out", str(certs / "jkfp.crt")],
        check=True, capture_output=True,
    )  # fmt: skip
    site_conf = (ROOT / "deploy" / "nginx" / "jkfp.conf").read_text()
    for old, new in (
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{tls_port} ssl http2;"),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("jkfp.example.gov.cn", "127.0.0.1"),
        ("/etc/ssl/jkfp/", f"{certs}/"),
        ("/opt/jkfp/static/", f"{settings.STATIC_ROOT}/"),
        ("127.0.0.1:8000", f"127.0.0.1:{app_port}"),
        ("shared:jkfp_tls:10m", "off"),
    ):
        assert old in site_conf, old
        site_conf = site_conf.replace(old, new)
    (tmp_path / "site.conf").write_text(site_conf)
    (tmp_path / "nginx.conf").write_text(
        f"user root;\ndaemon off;\npid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/nginx-error.log warn;\n"
        "events { worker_connections 256; }\n"
        f"http {{\n include /etc/nginx/mime.types;\n default_type application/octet-stream;\n"
        f" access_log {tmp_path}/nginx-access.log;\n client_body_temp_path {tmp_path}/body;\n"
        f" proxy_temp_path {tmp_path}/proxy;\n fastcgi_temp_path {tmp_path}/fcgi;\n uwsgi_temp_path {tmp_path}/uwsgi;\n"
        f" scgi_temp_path {tmp_path}/scgi;\n include {tmp_path}/site.conf;\n}}\n"
    )
    checked = subprocess.run([nginx, "-t", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)],
                             capture_output=True, text=True)  # fmt: skip
    assert checked.returncode == 0, checked.stderr

    log = (tmp_path / "serve.log").open("w")
    app = subprocess.Popen([*jkfp, "serve", "--port", str(app_port), "--workers", "1"], env=env, cwd=tmp_path,
                           stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    proxy = subprocess.Popen([nginx, "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)],
                             stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{app_port}/healthz", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.3)
        else:
            pytest.fail("the site never became healthy:\n" + (tmp_path / "serve.log").read_text())
        yield {
            "url": f"https://localhost:{tls_port}",
            "http": f"http://localhost:{http_port}",
            "home": tmp_path,
        }
    finally:
        for process in (proxy, app):
            process.send_signal(signal.SIGTERM)
        for process in (proxy, app):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def test_https_login_upload_ledger_logout_through_nginx(site: dict[str, object], tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    # plain HTTP: nginx sends the browser to HTTPS
    with pytest.raises(urllib.error.HTTPError) as redirect:
        urllib.request.build_opener(_NoRedirect).open(f"{site['http']}/login/", timeout=10)
    assert redirect.value.code == 301, redirect.value.headers
    assert redirect.value.headers["Location"].startswith("https://"), redirect.value.headers

    url = str(site["url"])
    roster = tmp_path / "国家平台2026.csv"
    persons = _roster(roster)
    assert roster.stat().st_size >= ROSTER_BYTES
    refused: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport=PHONE_VIEWPORT,  # type: ignore[arg-type]
                locale="zh-CN",
                ignore_https_errors=True,
                accept_downloads=True,
            )
            page = context.new_page()
            page.on("response", lambda r: refused.append(f"{r.status} {r.url}") if r.status >= 400 else None)

            page.goto(f"{url}/login/")
            assert page.evaluate("getComputedStyle(document.body).fontFamily") != "", "styled"
            page.get_by_label("用户名").fill("it-admin")
            page.get_by_label("密码").fill(PASSWORD)
            page.get_by_role("button", name="登录").click()
            expect(page.get_by_role("heading", name="您好，县管理员")).to_be_visible()
            cookies = {c["name"]: c for c in context.cookies()}
            assert {"sessionid", "csrftoken"} <= set(cookies)
            for cookie in cookies.values():
                assert cookie["secure"] and cookie["httpOnly"], cookie

            page.goto(f"{url}/imports/")
            page.get_by_label("来源名单").fill("国家平台")
            page.get_by_label("名单年度").fill("2026")
            page.get_by_label("名单文件").set_input_files(str(roster))
            page.get_by_role("button", name="上传并导入").click()
            # 先预览 is the default: the preview (nothing written) comes through the proxy first.
            expect(page.locator("#import-preview")).to_contain_text("预览（尚未写入）", timeout=180_000)
            expect(page.locator("#import-preview")).to_contain_text(f"新增{persons}")
            page.get_by_role("button", name="确认导入").click()
            summary = page.locator("#import-summary")
            expect(summary).to_contain_text("导入完成", timeout=180_000)
            expect(summary).to_contain_text(f"{persons}")

            # A ledger is written by the worker in the background (issue 17 §7); 我的导出 shows the link.
            page.goto(f"{url}/indicators/ledgers/?year=2026")
            page.locator("form[action*='/indicators/ledgers/'][action*='.xlsx'] button").first.click()
            link = page.locator("#export-runs a[href*='/exports/'][href*='/download/']").first
            expect(link).to_be_visible(timeout=240_000)
            with page.expect_download(timeout=60_000) as download:
                link.click(no_wait_after=True)
            saved = tmp_path / "ledger.xlsx"
            download.value.save_as(saved)
            assert saved.read_bytes()[:2] == b"PK" and saved.stat().st_size > 1000

            open_menu(page)
            page.get_by_role("button", name="退出").click()
            expect(page.get_by_role("heading", name="登录健康扶贫管理系统")).to_be_visible()
            assert page.url.startswith(f"{url}/login/")
        finally:
            browser.close()
    assert refused == [], refused  # no CSRF failure (403), nothing refused
    uploads = list((Path(str(site["home"])) / "data" / "imports").rglob("*.csv"))
    assert uploads == [], "the uploaded roster was deleted once its import finished"
    access = (Path(str(site["home"])) / "nginx-access.log").read_text()
    assert re.search(r'"POST /imports/ HTTP/[12].[01]" 302', access), "the upload went through nginx"

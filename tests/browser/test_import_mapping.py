"""浏览器测试 On a phone-sized screen: a list with foreign headers goes through the mapping step (two
columns and one value mapped), is saved as its source's template and imported; the source's next file
imports with no mapping step (issue 18, Done when)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from jkfp.accounts.models import Role
from jkfp.core.idnumber import make_id_number
from jkfp.core.tabular_map import parse_mapping
from jkfp.registry.models import ImportRun, ImportStatus, ImportTemplate, SourceRecord
from jkfp.registry.services import disease_catalogue_load


def township_list(path: Path, village: str, serials: tuple[int, int]) -> Path:
    a, b = (make_id_number("421321", date(1962, 5, 1), s) for s in serials)
    path.write_text(
        "某镇扶贫对象名单\n"
        "证件号,姓名,村代码,户主编号,人员类别\n"
        f"{a},周一,{village},ZX-1,一般贫困户\n"
        f"{b},吴二,{village},ZX-2,脱贫户\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.browser
def test_map_a_foreign_list_then_the_next_file_imports_by_itself(
    live_server: Any, phone: Any, settings: Any, tmp_path: Path, make_user: Any, county: dict[str, Any]
) -> None:
    from playwright.sync_api import expect

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    settings.IMPORT_DIR = tmp_path / "imports"
    disease_catalogue_load()
    make_user(Role.COUNTY_ADMIN, "421321", username="xian_admin", full_name="县管理员")
    village = county["t1v1"].code
    first = township_list(tmp_path / "镇名单1.csv", village, (501, 502))
    second = township_list(tmp_path / "镇名单2.csv", village, (503, 504))

    with phone() as tab:
        page = tab.page
        tab.log_in("xian_admin")

        def upload(path: Path) -> None:
            page.goto(f"{live_server.url}/imports/")
            page.get_by_label("来源名单").fill("某镇名单")
            page.get_by_label("名单年度").fill("2024")
            page.get_by_label("名单文件").set_input_files(str(path))
            page.get_by_role("button", name="上传并导入").click()

        upload(first)
        expect(page.get_by_role("heading", name="对应列和值：某镇名单 2024 年")).to_be_visible()
        expect(page.get_by_text("缺少必需的列：身份证号")).to_be_visible()
        page.get_by_label("“证件号”对应字段").select_option(label="身份证号")
        page.get_by_label("“户主编号”对应字段").select_option(label="户编号")
        page.get_by_role("button", name="保存模板并导入").click()
        # The value step: 一般贫困户 is no accepted value (脱贫户 is a shipped synonym).
        page.get_by_role("link", name="对应列和值").click()
        page.get_by_label("值“一般贫困户”对应").select_option("建档立卡")
        page.get_by_role("button", name="保存模板并导入").click()
        # 先预览 is checked by default: the mapped file is previewed (nothing written) before 确认导入.
        preview = page.locator("#import-preview")
        expect(preview).to_contain_text("预览（尚未写入）", timeout=15000)
        # The mapped value, as it will be imported.
        expect(page.locator("#preview-rows")).to_contain_text("建档立卡")
        assert not SourceRecord.objects.filter(source="某镇名单").exists(), "the preview wrote records"
        page.get_by_role("button", name="确认导入").click()
        summary = page.locator("#import-summary")
        expect(summary).to_contain_text("导入完成", timeout=15000)
        expect(summary).to_contain_text("新增人员")
        first_width = page.evaluate("document.documentElement.scrollWidth")

        upload(second)  # the same source: the template applies by itself
        expect(page.locator("#import-preview")).to_contain_text("预览（尚未写入）", timeout=15000)
        page.get_by_role("button", name="确认导入").click()
        expect(page.locator("#import-summary")).to_contain_text("导入完成", timeout=15000)
        expect(page.get_by_text("需要对应列和值")).to_have_count(0)

    assert tab.problems == []
    assert first_width <= 390
    runs = list(ImportRun.objects.order_by("pk"))
    assert [(r.status, r.summary["created"]) for r in runs] == [
        (ImportStatus.DONE, 2),
        (ImportStatus.DONE, 2),
    ]
    mapping = parse_mapping(ImportTemplate.objects.get(source="某镇名单").mapping)
    assert mapping.columns == {"证件号": "身份证号", "户主编号": "户编号"}
    assert mapping.values == {"人员类别": {"一般贫困户": "建档立卡"}}
    tags = sorted(SourceRecord.objects.filter(source="某镇名单").values_list("name", "tags"))
    assert tags == [("吴二", "脱贫"), ("吴二", "脱贫"), ("周一", "建档立卡"), ("周一", "建档立卡")]

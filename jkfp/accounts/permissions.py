"""权限矩阵 The permission matrix: which role may reach which page, export and API endpoint — the one
place (issue 17 §2, domain.md §2, 最小必要). ``docs/permissions.md`` is generated from it
(``python scripts/permissions_doc.py``; a test fails when the committed file drifts).

Every URL of the URL conf is declared here by its URL name (``namespace:name``; ``admin:*`` is the
whole admin site). ``jkfp.web.permissions.PermissionMatrixMiddleware`` enforces it before any view
runs: an undeclared URL is refused (fail closed), an anonymous user goes to the login page, a role
not in the entry gets 403, and an inspector (read-only everywhere) gets 403 on any change (POST).
The hospital API's token routes are checked by the API's fast path (``jkfp.api.middleware``).

What a role sees *inside* an allowed page is the selectors' business (region scope; the hospital
window's own institution; the fund office's persons behind settlements and alerts), and the
services still check the roles of every change (``scoping.role_require``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from jkfp.accounts.models import READ_ONLY_ROLES, UPPER_ROLES, Role

A, T, V, H, F, INS = (
    Role.COUNTY_ADMIN,
    Role.TOWNSHIP,
    Role.VILLAGE_DOCTOR,
    Role.HOSPITAL,
    Role.FUND,
    Role.INSPECTOR,
)
# Above the county (issue 21): city and province administrators and inspectors.
CA, PA, CI, PI = Role.CITY_ADMIN, Role.PROVINCE_ADMIN, Role.CITY_INSPECTOR, Role.PROVINCE_INSPECTOR
UPPER = (CA, PA, CI, PI)  # read everything in their city or province
UPPER_ADMINS = (CA, PA)  # and manage users (policies and catalogues: the admin site and the CLI)
ALL_ROLES: Final = frozenset(Role)

PAGE, EXPORT, ACTION, API, SITE = "page", "export", "action", "api", "site"
ERR_OFFLINE_ROLE = "离线应用只供村医使用"
KIND_LABELS: Final = {PAGE: "页面", EXPORT: "导出", ACTION: "操作", API: "接口", SITE: "公开/站点"}


@dataclass(frozen=True)
class Access:
    """一项权限 Who may reach one URL.

    ``roles``: the roles allowed (an inspector among them may only read: GET/HEAD).
    ``public``: anyone, signed in or not (the login page, the offline app's shell, health).
    ``token``: the hospital API's bearer token (an institution, not a user account).
    ``admin_site``: Django's admin site, for the administrators' staff accounts (county, city, province).
    ``own_account``: a change to one's own account (an inspector may change their password).
    ``writers``: when set, the roles that may also change something here (POST); the others read.

    A role above the county (``UPPER_ROLES``) only reads a page or export unless ``writers`` names it:
    it changes something only through an action that lists it (user management) or the admin site
    (accounts and catalogues, under the admin's own model permissions).
    """

    label: str
    kind: str
    roles: frozenset[str] = field(default_factory=frozenset)
    public: bool = False
    token: bool = False
    admin_site: bool = False
    own_account: bool = False
    writers: frozenset[str] | None = None
    refusal: str = ""  # the 403's message when not the generic one (scoping.ERR_ROLE)

    def allows(self, role: str | None, *, write: bool = False) -> bool:
        """允许 True when a signed-in user of ``role`` may reach the URL (``write``: an unsafe method)."""
        if self.public:
            return True
        if role not in self.roles:
            return False
        if write and self.writers is not None:
            return role in self.writers
        if self.kind == EXPORT:
            return True  # an export is a read, even when it is queued by a POST (background exports)
        if (
            write
            and role in UPPER_ROLES
            and self.kind != ACTION
            and not (self.own_account or self.admin_site)
        ):
            return False
        return not (write and role in READ_ONLY_ROLES and not self.own_account)


def _a(
    label: str, kind: str, *roles: str, own_account: bool = False, writers: Iterable[str] | None = None
) -> Access:
    return Access(
        label=label,
        kind=kind,
        roles=frozenset(roles),
        own_account=own_account,
        writers=None if writers is None else frozenset(writers),
    )


def _offline(label: str) -> Access:
    return Access(label=label, kind=API, roles=frozenset({V}), refusal=ERR_OFFLINE_ROLE)


def _public(label: str) -> Access:
    return Access(label=label, kind=SITE, public=True)


# Role groups: each names what the roles share (domain.md §2).
# The roster: county, township, village, inspectors (not hospital, not fund); the city and province read.
REGISTRY = (A, T, V, INS, *UPPER)
CARE = (A, T, V, INS, *UPPER)  # care records: never the hospital window nor the fund office
CARE_SERVICE = (A, T, V)
LOCAL = (A, T)  # county and township: edits of teams, cases, referrals, verification
CAPACITY = (A, T, V, INS, *UPPER)
SETTLEMENT_READ = (H, A, F, INS, *UPPER)  # the hospital sees its own institution's claims only (selectors)
INDICATORS = (
    A,
    T,
    V,
    F,
    INS,
    *UPPER,
)  # the fund office: aggregates and its own ledgers (jkfp.web.indicators)
MONITORING = (A, T, V, F, INS, *UPPER)  # the fund office: alerts and the persons behind them
MONITORING_STEPS = (A, T, V)
SUBSIDY_MAKE = (A, F)  # settlement.subsidies.SUBSIDY_ROLES
# settlement.subsidies.READ_ROLES; monitoring.workflow.TRANSITIONS (each step checks its own roles)
SUBSIDY_READ = (A, F, INS, *UPPER)
USER_ADMINS = (A, *UPPER_ADMINS)  # accounts.models.ADMIN_ROLES: users and the audit log of their region

MATRIX: Final[dict[str, Access]] = {
    # --- site ---------------------------------------------------------------------------------
    "healthz": _public("健康检查 health check (nothing personal)"),
    "web:login": _public("登录 login"),
    "web:logout": _public("退出 logout"),
    "web:home": _a("首页 home", PAGE, *ALL_ROLES),
    "web:password_change": _a("修改本人密码 change own password", ACTION, *ALL_ROLES, own_account=True),
    "admin:*": Access(
        label="管理后台 admin site (catalogues, accounts)",
        kind=SITE,
        roles=frozenset({A, *UPPER_ADMINS}),
        admin_site=True,
    ),
    "admin:login": _public("管理后台登录 admin login"),
    "admin:logout": _public("管理后台退出 admin logout"),
    # --- roster (精准识别) ----------------------------------------------------------------------
    "web:person_search": _a("人员查询 person search", PAGE, *REGISTRY),
    "web:person_detail": _a("人员页 person page", PAGE, *REGISTRY, F),
    # A reveal is a read (audited) sent as POST: the inspector may reveal too.
    "web:person_reveal": _a("显示完整身份证号 reveal ID number", ACTION, *REGISTRY, writers=REGISTRY),
    "web:person_verify": _a("核实核准 verify a person", ACTION, *LOCAL),
    "web:household_detail": _a("户页 household page", PAGE, *REGISTRY),
    "web:reconciliation": _a("名单比对 reconciliation", PAGE, *REGISTRY),
    "web:reconciliation_export": _a("名单比对导出 reconciliation export", EXPORT, *REGISTRY),
    "web:import_page": _a("导入 imports", ACTION, A),
    "web:import_detail": _a("导入进度 import progress", PAGE, A),
    "web:import_errors": _a("导入错误报告 import error report", EXPORT, A),
    "web:import_mapping": _a("导入列对应 import column mapping", ACTION, A),
    "web:import_confirm": _a("确认导入 confirm an import", ACTION, A),
    "web:import_templates": _a("导入模板 import templates", PAGE, A),
    "web:import_template_download": _a("下载导入模板 import template", EXPORT, A),
    "web:export_list": _a("我的导出 my exports (background)", PAGE, *ALL_ROLES),
    "web:export_download": _a("下载本人导出 download my export", EXPORT, *ALL_ROLES),
    "web:audit_log": _a("审计日志 audit log", PAGE, *USER_ADMINS),
    "web:user_list": _a("用户管理 users", PAGE, *USER_ADMINS),
    "web:user_password_reset": _a("重置密码 reset a password", ACTION, *USER_ADMINS),
    "web:user_unlock": _a("解除登录锁定 unlock an account", ACTION, *USER_ADMINS),
    # --- one-stop settlement (一站式结算) --------------------------------------------------------
    "settlement:list": _a("结算列表 settlements", PAGE, *SETTLEMENT_READ),
    "settlement:window": _a("结算窗口（入院登记，输入完整身份证号）admission window", PAGE, H),
    "settlement:discharge": _a("出院结算 discharge settlement", ACTION, H),
    "settlement:slip": _a("结算单 slip", PAGE, *SETTLEMENT_READ),
    "settlement:slip_pdf": _a("结算单PDF slip PDF", EXPORT, *SETTLEMENT_READ),
    "settlement:reverse": _a("冲销 reversal", ACTION, H, A),
    "settlement:outpatient": _a("门诊慢特病结算窗口 outpatient window", PAGE, H),
    "settlement:policies": _a("结算政策（按区划，只读）policies by region", PAGE, A, INS, *UPPER),
    "settlement:resettle": _a("政策调整测算 re-settlement report", PAGE, A, F),
    # 事后补助 subsidies for stays settled elsewhere: the county and the fund office make them.
    "settlement:subsidies": _a("事后补助 subsidies", PAGE, *SUBSIDY_READ),
    "settlement:subsidy_register": _a("补助登记（上传）subsidy register", ACTION, *SUBSIDY_MAKE),
    "settlement:subsidy_batch_create": _a("新建发放批次 new batch", ACTION, *SUBSIDY_MAKE),
    "settlement:subsidy_batch": _a("发放批次 batch", PAGE, *SUBSIDY_READ),
    "settlement:subsidy_batch_approve": _a("审批批次 approve a batch", ACTION, *SUBSIDY_MAKE),
    "settlement:subsidy_batch_withdraw": _a("撤回批次 withdraw a batch", ACTION, *SUBSIDY_MAKE),
    "settlement:subsidy_bank_file": _a("银行代发文件 bank file", EXPORT, *SUBSIDY_MAKE),
    "settlement:subsidy_batch_return": _a("银行回盘 bank return", ACTION, *SUBSIDY_MAKE),
    "settlement:subsidy_ledger": _a("事后补助台账 subsidy ledger", EXPORT, *SUBSIDY_READ),
    "settlement:bank_account": _a("银行账户 bank account", PAGE, *SUBSIDY_READ, writers=SUBSIDY_MAKE),
    "settlement:bank_account_reveal": _a(
        "显示完整银行账号 reveal bank account", ACTION, *SUBSIDY_READ, writers=SUBSIDY_READ
    ),
    "settlement:subsidy_attachment": _a("补助附件 subsidy attachment", EXPORT, *SUBSIDY_READ),
    "settlement:clearing": _a("基金清算 fund clearing", PAGE, *SETTLEMENT_READ),
    "settlement:clearing_export": _a("基金清算表 clearing export", EXPORT, *SETTLEMENT_READ),
    # --- major-disease treatment (大病救治) ------------------------------------------------------
    "treatment:case_list": _a("大病病例 cases", PAGE, *REGISTRY),
    "treatment:case_create": _a("登记病例 new case", ACTION, *LOCAL),
    "treatment:case_detail": _a("病例页 case page", PAGE, *REGISTRY),
    "treatment:case_status": _a("病例状态 case status", ACTION, *LOCAL),
    "treatment:case_followup": _a("病例随访 case follow-up", ACTION, A, T, V),
    "treatment:ledger_export": _a("大病救治台账 treatment ledger", EXPORT, *REGISTRY),
    "treatment:referral_list": _a("转诊 referrals", PAGE, *REGISTRY),
    "treatment:referral_create": _a("登记转诊 new referral", ACTION, *LOCAL),
    "treatment:referral_decide": _a("转诊审核 decide a referral", ACTION, *LOCAL),
    # --- family-doctor care (签约服务) ------------------------------------------------------------
    "care:worklist": _a("随访工作单 work list", PAGE, *CARE),
    "care:escalated": _a("逾期随访 overdue list", PAGE, A, T, INS, *UPPER),
    "care:person": _a("个人签约随访页 person care page", PAGE, *CARE),
    "care:visit": _a("登记随访 record a visit", ACTION, *CARE_SERVICE),
    "care:preview": _a("随访预览 visit preview", ACTION, *CARE_SERVICE),
    "care:contracts": _a("签约 contracts", PAGE, *CARE),
    "care:renew": _a("续签 renew contracts", ACTION, *LOCAL),
    "care:contract_register": _a("签约登记簿 contract register", EXPORT, *CARE),
    "care:fulfilment_register": _a("履约登记簿 fulfilment register", EXPORT, *CARE),
    "care:cards": _a("联系卡PDF contact cards", EXPORT, *CARE),
    "care:teams": _a("团队 teams", PAGE, *CARE),
    "care:team_create": _a("新建团队 new team", ACTION, *LOCAL),
    "care:team": _a("编辑团队 edit team", PAGE, *LOCAL),
    "care:team_member_add": _a("添加成员 add member", ACTION, *LOCAL),
    "care:team_member_remove": _a("移除成员 remove member", ACTION, *LOCAL),
    "care:checkups": _a("体检 health checks", PAGE, *CARE, writers=CARE_SERVICE),
    "care:deliveries": _a("送药 drug deliveries", PAGE, *CARE, writers=CARE_SERVICE),
    "care:cards_person": _a("慢病卡 chronic cards", PAGE, *CARE, writers=LOCAL),
    "care:record": _a("健康档案 health record", PAGE, *CARE, writers=CARE_SERVICE),
    "care:void": _a("作废 void an entry", ACTION, *CARE_SERVICE),
    "care:household_doctor": _a("家庭医生 household's doctor", PAGE, *CARE, writers=LOCAL),
    # --- capacity (基层能力) ----------------------------------------------------------------------
    "capacity:overview": _a("基层能力 capacity overview", PAGE, *CAPACITY),
    "capacity:village": _a("村 village", PAGE, *CAPACITY),
    "capacity:institutions": _a("机构 institutions", PAGE, *CAPACITY),
    "capacity:institution": _a("机构页 institution", PAGE, *CAPACITY),
    "capacity:staff": _a("卫生人员 staff", PAGE, *CAPACITY),
    "capacity:support": _a("对口帮扶 paired support", PAGE, *CAPACITY),
    "capacity:telemedicine": _a("远程医疗 telemedicine", PAGE, *CAPACITY),
    "capacity:training": _a("培训 training", PAGE, *CAPACITY),
    "capacity:rectify": _a("空白点整改 rectify a blank point", ACTION, *LOCAL),
    # --- indicators (指标) ------------------------------------------------------------------------
    "indicators:dashboard": _a("指标 dashboard", PAGE, *INDICATORS),
    "indicators:refresh": _a("重新计算 refresh", ACTION, A),
    "indicators:drill": _a("指标下钻到人 drill-down to persons", PAGE, A, T, V, INS, *UPPER),
    "indicators:drill_export": _a("下钻导出 drill-down export", EXPORT, A, T, V, INS, *UPPER),
    "indicators:ledgers": _a("台账 ledgers", PAGE, *INDICATORS),
    "indicators:ledger_export": _a("台账导出（基金：仅结算、预警台账）ledger export", EXPORT, *INDICATORS),
    "indicators:report": _a("自评报告 self-assessment report", EXPORT, A, T, V, INS, *UPPER),
    "indicators:rectification_list": _a("问题整改 rectification", PAGE, A, T, V, INS, *UPPER),
    "indicators:rectification_update": _a("更新整改 update rectification", ACTION, *LOCAL),
    # --- monitoring (防返贫监测) -------------------------------------------------------------------
    "monitoring:queue": _a("预警队列 alert queue", PAGE, *MONITORING),
    "monitoring:case_detail": _a("监测页 monitoring case", PAGE, *MONITORING),
    "monitoring:case_step": _a("监测流程 case step", ACTION, *MONITORING_STEPS),
    "monitoring:measure_add": _a("帮扶措施 add a measure", ACTION, *LOCAL),
    "monitoring:attachment": _a("附件 attachment", EXPORT, *MONITORING),
    "monitoring:overview": _a("监测总览 overview", PAGE, A, T, F, INS, *UPPER),
    "monitoring:ledger_export": _a("监测台账 monitoring ledger", EXPORT, *MONITORING),
    # --- village doctor offline app (村医离线) --------------------------------------------------
    "offline:app": _public("离线应用外壳 offline app shell (no data)"),
    "offline:worker": _public("离线应用 service worker"),
    "offline:manifest": _public("离线应用清单 manifest"),
    "offline:devices": _a("离线设备 devices", PAGE, A),
    "offline:device_revoke": _a("吊销设备 revoke a device", ACTION, A),
    # --- API (/api/v1/) -----------------------------------------------------------------------
    "api:api-root": _public("接口根 API root"),
    "api:openapi-json": _public("接口文档 OpenAPI schema (docs/openapi.json)"),
    "api:settlement_create": Access(label="接口：出院结算 API settle", kind=API, token=True),
    "api:settlement_get": Access(label="接口：查询结算 API get settlement", kind=API, token=True),
    "api:settlement_reverse": Access(label="接口：冲销 API reverse", kind=API, token=True),
    "api:scope": _offline("离线接口：下载范围 offline scope"),
    "api:csrf": _offline("离线接口：CSRF offline csrf"),
    "api:sync": _offline("离线接口：同步 offline sync"),
    "api:device_status": _public("离线接口：设备是否已吊销（只有状态，无数据） offline device status"),
}

# What the fund office may export from the ledgers (settlements and alerts; no roster, no care records).
FUND_LEDGERS: Final = frozenset({"settlement", "alerts"})


def access_for(view_name: str | None) -> Access | None:
    """权限 The matrix entry of a URL name (``admin:…`` falls back to ``admin:*``); None: undeclared."""
    if not view_name:
        return None
    entry = MATRIX.get(view_name)
    if entry is None and view_name.startswith("admin:"):
        entry = MATRIX["admin:*"]
    return entry


def allowed(user: Any, url_name: str, *, write: bool = False) -> bool:
    """可访问 True when the matrix lets ``user`` reach the URL ``url_name`` (``write``: change something
    there) — the one answer for which link, tab or button a page shows; the middleware enforces the
    same entry. An undeclared name, an anonymous or an inactive user: False (a public URL: True)."""
    entry = access_for(url_name)
    if entry is None:
        return False
    if entry.public:
        return True
    if user is None or not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", True):
        return False
    return entry.allows(getattr(user, "role", None), write=write)


ROLE_ORDER: Final = (PA, CA, A, T, V, H, F, PI, CI, INS)
SHORT: Final = {
    PA: "省",
    CA: "市",
    A: "县",
    T: "乡",
    V: "村",
    H: "院",
    F: "基金",
    PI: "省督查",
    CI: "市督查",
    INS: "督查",
}


def _cell(entry: Access, role: str) -> str:
    if entry.public:
        return "公开"
    if entry.token:
        return "令牌" if role == H else "—"
    if not entry.allows(role):
        return "—"
    if not entry.allows(role, write=True):
        return "—" if entry.kind == ACTION else "只读"
    return "✓"


def matrix_markdown(entries: Iterable[tuple[str, Access]] | None = None) -> str:
    """权限矩阵文档 ``docs/permissions.md``: one row per URL name, one column per role."""
    rows = list(entries if entries is not None else MATRIX.items())
    head = "| URL 名称 URL name | 说明 what | 类别 kind | " + " | ".join(
        f"{SHORT[r]} {r.value}" for r in ROLE_ORDER
    )
    lines = [
        "# 权限矩阵 Permission matrix",
        "",
        "生成自 Generated from `jkfp/accounts/permissions.py` (`python scripts/permissions_doc.py`);",
        "一个测试核对本文件与代码一致，另一个测试以每个角色和匿名访问 URL conf 的每个 URL。",
        "A test checks this file against the code; another walks every URL of the URL conf as every role",
        "and as an anonymous visitor.",
        "",
        "✓ 可用 allowed · 只读 read-only (GET) · 令牌 the hospital API token · 公开 anyone · — 拒绝 refused",
        "(403; 匿名：转登录页 anonymous: the login page; 接口 API: 401).",
        "",
        "页面内可见的数据另由区划与角色限定 What an allowed page shows is scoped further by the selectors:",
        "",
        "- 院 hospital window: 只有本机构的入院、结算申请、结算单与清算；人员只能在入院登记中输入完整身份证号",
        "  （精确匹配，全部署任一县的人员，邻县患者亦可入院结算；只显示姓名与脱敏身份证号）；无查询、人员页、户页、",
        "  显示身份证号、名单比对、花名册导出。Own institution's admissions, claims, slips and clearing;",
        "  persons only by the full ID number typed into the admission form (exact match, a person of any",
        "  county of the deployment — like the API —; name and masked ID only).",
        "- 基金 fund office: 结算、基金合计、清算、预警，以及其背后的人员（有结算申请或预警/监测的人员的人员页）；",
        "  台账只能导出一站式结算台账与防返贫监测预警台账；无名单比对、签约随访记录、花名册导出。",
        "  Settlements, fund totals, clearing, alerts and the persons behind them (person pages of persons",
        "  with a claim, an alert or a monitoring case); ledgers: settlement and alerts only.",
        "- 督查 inspector: 范围内一切只读（任何修改 403），每次读取记审计。Read-only everywhere in scope.",
        "- 省、市 province and city administrators / inspectors: 本省/本市各县一切只读（每次读取记审计）；管理员另可",
        "  管理本区划用户、政策与目录（后台与命令行），不录入随访、核实与结算。Read everything in their",
        "  province or city; the administrators also manage its users, policies and catalogues; no entry of",
        "  care, verification or settlement.",
        "",
        head,
        "|" + "---|" * (3 + len(ROLE_ORDER)),
    ]
    for name, entry in rows:
        cells = " | ".join(_cell(entry, r) for r in ROLE_ORDER)
        lines.append(f"| `{name}` | {entry.label} | {KIND_LABELS[entry.kind]} | {cells} |")
    return "\n".join(lines) + "\n"


DOC_PATH: Final = Path(__file__).resolve().parents[2] / "docs" / "permissions.md"

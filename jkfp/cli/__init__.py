"""`jkfp` 命令 The one command-line entry point.

``jkfp settle`` runs the settlement engine without Django (it must start in well under a second);
every other subcommand is a Django management command of this package, with ``-`` in its name
written as ``_`` in the module (``import-roster`` → ``management/commands/import_roster.py``).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import jkfp

COMMANDS = {
    "init": "创建或升级数据库并载入目录 / create or upgrade the database and load catalogues",
    "import-regions": "导入行政区划 / import regions (CSV/XLSX)",
    "import-institutions": "导入医疗机构 / import institutions (CSV/XLSX)",
    "import-roster": "导入花名册 / import a roster list (CSV/XLSX)",
    "import-cases": "导入大病救治病例 / import major-disease cases (CSV/XLSX)",
    "import-enrolment": "导入参保名单 / import the yearly insurance enrolment (CSV/XLSX)",
    "import-contracts": "导入家庭医生签约 / import family-doctor contracts (CSV/XLSX)",
    "import-followups": "导入慢病随访记录 / import chronic-disease follow-ups (CSV/XLSX)",
    "import-staff": "导入卫生人员 / import health workers (CSV/XLSX)",
    "import-support": "导入对口帮扶 / import paired support (CSV/XLSX)",
    "import-telemedicine": "导入远程医疗接入与会诊 / import telemedicine links and consultations (CSV/XLSX)",
    "import-training": "导入培训与参训人数 / import trainings and attendance (CSV/XLSX)",
    "import-coverage": "导入卫生院覆盖村（例外） / import villages covered by a township centre (CSV/XLSX)",
    "import-cards": "导入慢病卡（门诊慢特病认定） / import chronic-disease cards (CSV/XLSX)",
    "capacity": "基层医疗卫生服务能力与空白点：capacity --region CODE [--as-of DATE] [--json] / blank points",
    "care-renew": "整村续签家庭医生签约 / renew a village's contracts for a year",
    "care-sync": "补建慢病随访计划（花名册导入后）/ create missing follow-up schedules",
    "reconcile": "名单比对汇总 / reconciliation summary",
    "createuser": "创建用户 / create a user bound to a region",
    "demo": "生成示例县数据并创建演示账号 / build the demo county and accounts",
    "serve": "启动网站与后台任务 / serve the site and the background worker",
    "worker": "只运行后台任务进程 / run the background worker on its own",
    "backup": "备份数据库与数据目录：backup --out FILE / back up the database and the data directory",
    "restore": "从备份恢复：restore FILE [--force] / restore a backup into an empty installation",
    "housekeeping": "立即执行数据清理（后台每天自动执行）/ delete what outlived its keeping period now",
    "changepassword": "修改用户密码（交互）/ change a user's password (prompts)",
    "clearsessions": "清除过期会话 / delete expired sessions",
    "check": "检查配置，生产环境用 check --deploy / check the configuration (--deploy for production)",
    "showmigrations": "列出数据库迁移及是否已应用 / list the migrations and whether they are applied",
    "settle": "按政策结算住院费用（无需数据库） / settle claims with a policy (no database)",
    "import-claims": "导入结算申请 / import claims (CSV/XLSX)",
    "import-bank-accounts": "导入事后补助银行账号 / import persons' subsidy bank accounts (CSV/XLSX)",
    "settle-claims": "批量结算某年待结算申请 / settle a year's pending claims in the database",
    "export-settlements": "导出某年结算结果 / export a year's settlements (jkfp settle format)",
    "policy": "结算政策：policy install FILE [--region CODE] | list [--region CODE] / settlement policies",
    "catalogue": "病种目录（按区划）：catalogue list [--region CODE] [--on DATE] [--json] / a region's disease catalogue",
    "resettle": "按新政策重算全年并出报告 / re-settle a year under a policy, with a report",
    "clearing": "基金清算单 / fund clearing statement per institution and month (.xlsx)",
    "monitor": "防返贫监测预警扫描：monitor scan --as-of DATE [--json] / raise monitoring alerts",
    "indicators": "指标（分子、分母、比率），--refresh 重新计算 / indicators of a region (--refresh recomputes)",
    "token": "医院接口令牌：token create --institution CODE | list | revoke ID / hospital API tokens",
}


# Commands that create or upgrade the schema themselves.
SELF_MIGRATING = frozenset({"init", "demo", "restore", "check", "showmigrations", "backup"})


def _schema_behind() -> bool:
    """数据库结构落后 True when migrations are pending (or the database is empty)."""
    from django.db import connection  # noqa: PLC0415 (Django is set up first (and not at all for jkfp settle))
    from django.db.migrations.executor import MigrationExecutor  # noqa: PLC0415 (Django is set up first (and not at all for jkfp settle))

    executor = MigrationExecutor(connection)
    return bool(executor.migration_plan(executor.loader.graph.leaf_nodes()))


# Django's options that mean nothing to a county's IT officer: hidden from every command's --help.
NOISE_OPTIONS = frozenset(
    {"--version", "--verbosity", "--settings", "--pythonpath", "--traceback", "--no-color", "--force-color",
     "--skip-checks"}
)  # fmt: skip


def _hide_noise(handler: Any) -> None:
    """Wrap ``handler.create_parser`` so that Django's own options are left out of the help."""
    create_parser = handler.create_parser

    def quiet_parser(prog_name: str, subcommand: str, **kwargs: Any) -> Any:
        parser = create_parser(prog_name, subcommand, **kwargs)
        for action in parser._actions:
            if NOISE_OPTIONS & set(action.option_strings):
                action.help = argparse.SUPPRESS
        return parser

    handler.create_parser = quiet_parser


def _usage() -> str:
    lines = [f"jkfp {jkfp.__version__} 健康扶贫管理系统", "", "用法 usage: jkfp <command> [options]", ""]
    lines += [f"  {name:<22}{text}" for name, text in COMMANDS.items()]
    lines += [
        "",
        "jkfp <command> --help 查看命令说明 / shows a command's options",
        "jkfp --version 版本 / version",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help", "help"}:
        print(_usage())
        return 0
    if args[0] in {"--version", "-V", "version"}:
        print(f"jkfp {jkfp.__version__}")
        return 0
    command, rest = args[0], args[1:]
    if command == "settle":
        from jkfp.settle_cli import main as settle_main  # noqa: PLC0415 (Django is set up first (and not at all for jkfp settle))

        return settle_main(rest)
    if command not in COMMANDS:
        print(f"未知命令“{command}” / unknown command '{command}'\n\n{_usage()}", file=sys.stderr)
        return 2
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jkfp.settings")
    import django  # noqa: PLC0415 (Django is set up first (and not at all for jkfp settle))
    from django.core.management import ManagementUtility  # noqa: PLC0415 (Django is set up first (and not at all for jkfp settle))

    django.setup()
    wants_help = bool({"-h", "--help"} & set(rest))
    if command not in SELF_MIGRATING and not wants_help and _schema_behind():
        print(
            "数据库尚未初始化或需要升级，请先运行 jkfp init / the database is not initialised or needs "
            "an upgrade: run `jkfp init` first",
            file=sys.stderr,
        )
        return 2
    # run_from_argv names the program "jkfp <command>" in usage and errors, as the user typed it.
    handler = ManagementUtility(["jkfp"]).fetch_command(command.replace("-", "_"))
    _hide_noise(handler)
    try:
        handler.run_from_argv(["jkfp", command, *rest])
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""医院接口 The hospital API at ``/api/v1/``: one NinjaAPI, one router per domain, one error shape.

Every operation needs ``Authorization: Bearer <token>`` (``jkfp token create --institution CODE``);
the token names the institution, which sees only its own claims.
"""

from __future__ import annotations

from ninja import NinjaAPI

from jkfp.api import errors
from jkfp.api.auth import InstitutionBearer
from jkfp.api.settlements import router as settlements_router

api = NinjaAPI(
    title="健康扶贫 一站式结算接口 / jkfp hospital settlement API",
    version="1.0.0",
    description=(
        '定点医疗机构出院结算接口。金额为带两位小数的字符串（元），如 "1234.50"；'
        "机构、医院等级和县域内标志取自令牌。错误统一为 {code, message, errors:[{field, message}]}。\n\n"
        "Discharge settlement for designated hospitals. Amounts are strings with two decimals (yuan); "
        "the institution, its level and its in-county flag come from the token."
    ),
    urls_namespace="api",
    auth=InstitutionBearer(),
    docs_url=None,
)
errors.install(api)
api.add_router("/settlements", settlements_router)

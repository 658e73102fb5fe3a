"""医院接口 The hospital API at ``/api/v1/``: one NinjaAPI, one router per domain, one error shape.

Every settlement operation needs ``Authorization: Bearer <token>`` (``jkfp token create
--institution CODE``); the token names the institution, which sees only its own claims. The village
doctor's offline app (``/api/v1/offline/``) logs in with the site's session and CSRF instead.
"""

from __future__ import annotations

from ninja import NinjaAPI

from jkfp.api import errors
from jkfp.api.auth import InstitutionBearer
from jkfp.api.offline import router as offline_router
from jkfp.api.settlements import router as settlements_router

api = NinjaAPI(
    title="健康扶贫 一站式结算与村医离线接口 / jkfp hospital settlement and offline app API",
    version="1.0.0",
    description=(
        '定点医疗机构出院结算接口。金额为带两位小数的字符串（元），如 "1234.50"；'
        "机构、医院等级和县域内标志取自令牌。错误统一为 {code, message, errors:[{field, message}]}。\n\n"
        "Discharge settlement for designated hospitals. Amounts are strings with two decimals (yuan); "
        "the institution, its level and its in-county flag come from the token.\n\n"
        "村医离线应用（/api/v1/offline/）用网站登录会话和 CSRF（请求头 X-CSRFToken）。"
        "The village doctor's offline app (/api/v1/offline/) uses the site's session login and CSRF."
    ),
    urls_namespace="api",
    auth=InstitutionBearer(),
    docs_url=None,
)
errors.install(api)
api.add_router("/settlements", settlements_router)
api.add_router("/offline", offline_router)

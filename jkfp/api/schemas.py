"""接口数据结构 Request and response bodies of the hospital API (issue 4 §5).

Amounts are strings with exactly two decimals (no float ever touches money); validators raise
Chinese messages naming the field. The institution, its level and its in-county flag are not in
the body: they come from the token.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from django.conf import settings
from django.utils import timezone
from ninja import Field, Schema
from pydantic import ConfigDict, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from jkfp.core.idnumber import IdNumberError, validate_id_number
from jkfp.engine import (
    AMOUNT_INVALID,
    DISCHARGE_BEFORE_ADMIT,
    OUT_OF_SCOPE_ABOVE_TOTAL,
    PLAUSIBLE_CLAIM_AMOUNT_FEN,
    ClaimValueError,
    amount_fen,
    claim_date_reasons,
    decimal_to_fen,
    implausible_amount,
    implausible_amount_reason,
    out_of_scope_above_total,
)

AMOUNT_PATTERN = r"^[0-9]{1,9}\.[0-9]{2}$"
CLAIM_ID_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z_.\-]{0,63}$"
ID_NUMBER_PATTERN = r"^[0-9]{17}[0-9Xx]$"

# The wire format of an amount (exactly two decimals) is the API's; the rules of a claim's fields and
# their messages are the engine's (``engine/claims.py``), as everywhere else.
ERR_AMOUNT_FORMAT = '应为带两位小数的金额文本，如 "1234.50"'
ERR_OUT_OF_SCOPE_ABOVE_TOTAL = f"{OUT_OF_SCOPE_ABOVE_TOTAL[0]}（total_amount）"
ERR_DISCHARGE_BEFORE_ADMISSION = f"{DISCHARGE_BEFORE_ADMIT[0]}（admitted_on）"
ERR_CLAIM_ID = "只能由字母、数字、下划线、点和连字符组成，最长64位"


def plausible_limit_fen() -> int:
    """合理上限 The API's plausibility limit in fen (``settings.CLAIM_PLAUSIBLE_MAX_AMOUNT``, yuan;
    default the engine's 5,000,000.00)."""
    configured = getattr(settings, "CLAIM_PLAUSIBLE_MAX_AMOUNT", None)
    return PLAUSIBLE_CLAIM_AMOUNT_FEN if configured is None else decimal_to_fen(Decimal(str(configured)))


def _custom(message: str) -> PydanticCustomError:
    return PydanticCustomError("jkfp_invalid", message)


class SettlementIn(Schema):
    """出院结算请求 One stay to settle at discharge, or one outpatient special chronic disease visit
    (门诊慢特病, ``kind`` outpatient: ``disease`` required, ``admitted_on`` = ``discharged_on`` = the
    visit date, ``admitted_on`` and ``referred`` may be left out; the person needs a valid
    chronic-disease card for the disease on that day). A stay needs ``admitted_on`` and ``referred``
    (422 naming the missing one)."""

    model_config = ConfigDict(extra="forbid")

    claim_id: str = Field(
        ...,
        pattern=CLAIM_ID_PATTERN,
        description="结算申请号（医院住院流水号，机构内唯一；字母、数字、_.-，最长64位） / claim id",
        examples=["ZY2020030100017"],
    )
    id_number: str = Field(
        ...,
        pattern=ID_NUMBER_PATTERN,
        description="患者身份证号（18位，末位可为X，须通过校验码） / resident ID number (18 characters)",
        examples=["42132119600501001X"],
    )
    admitted_on: date | None = Field(
        None,
        description=(
            "入院日期 YYYY-MM-DD（住院必填；门诊慢特病可省略，即就诊日期） / admission date "
            "(required for a stay; an outpatient visit: the visit date when absent)"
        ),
    )
    discharged_on: date = Field(
        ..., description="出院日期 YYYY-MM-DD（决定适用政策和结算年度） / discharge date"
    )
    total_amount: str = Field(
        ...,
        pattern=AMOUNT_PATTERN,
        description="医疗总费用（元，两位小数） / total cost",
        examples=["20000.00"],
    )
    out_of_scope_amount: str = Field(
        ...,
        pattern=AMOUNT_PATTERN,
        description="目录外费用（元，两位小数，≤ 总费用） / out-of-catalogue cost",
        examples=["1000.00"],
    )
    referred: bool | None = Field(
        None,
        description=(
            "县外就医是否已转诊备案（住院必填；门诊慢特病可省略，按人员的转诊备案记录） / approved referral "
            "(required for a stay; an outpatient visit: the person's referral record when absent)"
        ),
    )
    kind: Literal["inpatient", "outpatient"] = Field(
        "inpatient",
        description="就诊类别：inpatient 住院（默认）/ outpatient 门诊慢特病 / claim kind",
    )
    disease: str | None = Field(
        None,
        max_length=50,
        description="门诊慢特病病种（outpatient 必填，政策的门诊慢特病病种名称，如 高血压）/ outpatient disease",
        examples=["高血压"],
    )

    @field_validator("claim_id", mode="before")
    @classmethod
    def _claim_id(cls, value: Any) -> Any:
        if isinstance(value, str) and not re.fullmatch(CLAIM_ID_PATTERN, value):
            raise _custom(ERR_CLAIM_ID)
        return value

    @field_validator("id_number")
    @classmethod
    def _id_number(cls, value: str) -> str:
        try:
            return validate_id_number(value, today=timezone.localdate())
        except IdNumberError as exc:
            raise _custom(exc.zh) from exc

    @field_validator("total_amount")
    @classmethod
    def _total(cls, value: str) -> str:
        limit = plausible_limit_fen()
        if implausible_amount(_fen(value), limit):
            raise PydanticCustomError("jkfp_implausible", implausible_amount_reason(limit)[0])
        return value

    @field_validator("out_of_scope_amount")
    @classmethod
    def _out_of_scope(cls, value: str, info: ValidationInfo) -> str:
        total = info.data.get("total_amount")
        if total is not None and out_of_scope_above_total(_fen(total), _fen(value)):
            raise _custom(ERR_OUT_OF_SCOPE_ABOVE_TOTAL)
        return value

    @field_validator("discharged_on")
    @classmethod
    def _discharged(cls, value: date, info: ValidationInfo) -> date:
        reasons = claim_date_reasons(
            admitted_on=info.data.get("admitted_on"), discharged_on=value, today=timezone.localdate()
        )
        reason = reasons.get("discharged_on")
        if reason == DISCHARGE_BEFORE_ADMIT:
            raise _custom(ERR_DISCHARGE_BEFORE_ADMISSION)
        if reason is not None:
            raise _custom(reason[0])
        return value


def _fen(value: str) -> int:
    """An amount by the engine's rule (``engine.amount_fen``), or the engine's message."""
    try:
        return amount_fen(value)
    except ClaimValueError as exc:
        raise _custom(AMOUNT_INVALID[0].format(reason=exc.zh)) from exc


class ReverseIn(Schema):
    """冲销请求 Why the settlement is reversed."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(..., min_length=1, max_length=300, description="冲销原因 / reason for the reversal")


class SettlementOut(Schema):
    """结算结果 Every layer of the claim's settlement, in yuan with two decimals (settlement.md §2, §6)."""

    claim_id: str = Field(..., description="结算申请号")
    kind: str = Field(..., description="就诊类别：inpatient 住院 / outpatient 门诊慢特病")
    disease: str = Field(..., description="门诊慢特病病种（住院为空）")
    category: str = Field(..., description="结算类别（tekun/dibao/poor/monitored/ordinary）")
    policy: str = Field(..., description="适用政策及版本，如 suixian-2020 v1")
    counted_total: str = Field(..., pattern=AMOUNT_PATTERN, description="计入结算费用")
    hospital_absorbed: str = Field(..., pattern=AMOUNT_PATTERN, description="医院承担的超限目录外费用")
    basic: str = Field(..., pattern=AMOUNT_PATTERN, description="基本医保")
    critical: str = Field(..., pattern=AMOUNT_PATTERN, description="大病保险")
    aid: str = Field(..., pattern=AMOUNT_PATTERN, description="医疗救助")
    supplementary: str = Field(..., pattern=AMOUNT_PATTERN, description="补充医疗保险（兜底）")
    personal: str = Field(..., pattern=AMOUNT_PATTERN, description="个人负担")
    ratio: str | None = Field(
        ..., description="实际报销比例（基金合计 ÷ 计入结算费用，6位小数）；计入费用为0时为 null"
    )


class SettlementStatusOut(SettlementOut):
    """结算查询结果 The claim's settlement and its status (``settled`` or ``reversed``)."""

    status: str = Field(..., description="状态：settled 已结算 / reversed 已冲销")

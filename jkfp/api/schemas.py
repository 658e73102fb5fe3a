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

from django.utils import timezone
from ninja import Field, Schema
from pydantic import ConfigDict, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from jkfp.core.idnumber import IdNumberError, validate_id_number
from jkfp.engine import (
    MAX_CLAIM_AMOUNT_FEN,
    OUT_OF_SCOPE_ABOVE_TOTAL,
    decimal_to_fen,
    fen_to_decimal,
    out_of_scope_above_total,
)

AMOUNT_PATTERN = r"^[0-9]{1,9}\.[0-9]{2}$"
CLAIM_ID_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z_.\-]{0,63}$"
MAX_AMOUNT = fen_to_decimal(MAX_CLAIM_AMOUNT_FEN)

ERR_AMOUNT_FORMAT = '应为带两位小数的金额文本，如 "1234.50"'
ERR_AMOUNT_MAX = "超过上限 100000000.00 元，疑为错误"
ERR_OUT_OF_SCOPE_ABOVE_TOTAL = f"{OUT_OF_SCOPE_ABOVE_TOTAL[0]}（total_amount）"
ERR_DISCHARGE_BEFORE_ADMISSION = "不能早于入院日期（admitted_on）"
ERR_CLAIM_ID = "只能由字母、数字、下划线、点和连字符组成，最长64位"


def _custom(message: str) -> PydanticCustomError:
    return PydanticCustomError("jkfp_invalid", message)


class SettlementIn(Schema):
    """出院结算请求 One stay to settle at discharge, or one outpatient special chronic disease visit
    (门诊慢特病, ``kind`` outpatient: ``disease`` required, ``admitted_on`` = ``discharged_on`` = the
    visit date; the person needs a valid chronic-disease card for the disease on that day)."""

    model_config = ConfigDict(extra="forbid")

    claim_id: str = Field(
        ..., description="结算申请号（医院住院流水号，机构内唯一） / claim id", examples=["ZY2020030100017"]
    )
    id_number: str = Field(..., description="患者身份证号（18位） / resident ID number")
    admitted_on: date = Field(..., description="入院日期 YYYY-MM-DD / admission date")
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
    referred: bool = Field(
        ..., description="县外住院是否已转诊备案 / approved referral (out-of-county stays)"
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
        if Decimal(value) > MAX_AMOUNT:
            raise _custom(ERR_AMOUNT_MAX)
        return value

    @field_validator("out_of_scope_amount")
    @classmethod
    def _out_of_scope(cls, value: str, info: ValidationInfo) -> str:
        total = info.data.get("total_amount")
        if total is not None and out_of_scope_above_total(
            decimal_to_fen(Decimal(total)), decimal_to_fen(Decimal(value))
        ):
            raise _custom(ERR_OUT_OF_SCOPE_ABOVE_TOTAL)
        return value

    @field_validator("discharged_on")
    @classmethod
    def _discharged(cls, value: date, info: ValidationInfo) -> date:
        admitted = info.data.get("admitted_on")
        if admitted is not None and value < admitted:
            raise _custom(ERR_DISCHARGE_BEFORE_ADMISSION)
        return value


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

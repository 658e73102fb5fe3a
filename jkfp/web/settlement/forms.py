"""一站式结算表单 Forms of the settlement pages: they only parse input; the rules live in the services."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from jkfp import engine
from jkfp.settlement.compute import CATEGORY_LABELS
from jkfp.settlement.models import BankAccountKind, ClaimStatus
from jkfp.web.forms import choice_field

SELECT = {"class": "form-select"}
DATE = {"type": "date", "class": "form-control"}
TEXT = {"class": "form-control"}
MONEY = {"class": "form-control", "inputmode": "decimal", "step": "0.01", "min": "0"}


class MoneyField(forms.Field):
    """金额 Yuan as typed, checked by the engine's amount rule (``engine.amount_fen``: ≥ 0, at most two
    decimals, at most the absurd-amount bound) with its message, cleaned to an exact Decimal."""

    def to_python(self, value: Any) -> Decimal | None:
        text = "" if value is None else str(value).strip()
        if not text:
            return None
        try:
            return engine.fen_to_decimal(engine.amount_fen(text))
        except engine.ClaimValueError as exc:
            raise ValidationError(engine.AMOUNT_INVALID[0].format(reason=exc.zh), code="invalid") from exc


def money_field(label: str, **kwargs: Any) -> MoneyField:
    """金额 A money field of the settlement forms."""
    return MoneyField(label=label, widget=forms.NumberInput(attrs=MONEY), **kwargs)


class AdmissionForm(forms.Form):
    """入院登记 Person (full ID number), admission date, the 先诊疗后付费 agreement and the deposit waived."""

    id_number = forms.CharField(
        label="身份证号",
        max_length=18,
        widget=forms.TextInput(attrs={**TEXT, "autocomplete": "off", "inputmode": "text"}),
    )
    admitted_on = forms.DateField(label="入院日期", widget=forms.DateInput(attrs=DATE))
    deferred_payment = forms.BooleanField(
        label="签署先诊疗后付费协议",
        required=False,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )
    agreement_signed_on = forms.DateField(
        label="协议签署日期", required=False, widget=forms.DateInput(attrs=DATE)
    )
    deposit_waived_amount = money_field("免交押金（元）", required=False, initial=Decimal("0.00"))


class DischargeForm(forms.Form):
    """出院结算 The stay's claim id, discharge date and amounts (level and in-county from the hospital)."""

    claim_id = forms.CharField(label="结算号（住院号）", max_length=64, widget=forms.TextInput(attrs=TEXT))
    discharged_on = forms.DateField(label="出院日期", widget=forms.DateInput(attrs=DATE))
    total_amount = money_field("医疗总费用（元）")
    out_of_scope_amount = money_field("其中目录外费用（元）")
    referred = forms.BooleanField(
        label="已办理转诊备案（县外住院）",
        required=False,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )


class OutpatientForm(forms.Form):
    """门诊慢特病结算 One screen, no admission: person (full ID number), disease, visit date, amounts."""

    id_number = forms.CharField(
        label="身份证号",
        max_length=18,
        widget=forms.TextInput(attrs={**TEXT, "autocomplete": "off", "inputmode": "text"}),
    )
    disease = forms.ChoiceField(label="门诊慢特病病种", widget=forms.Select(attrs=SELECT))
    visited_on = forms.DateField(label="就诊日期", widget=forms.DateInput(attrs=DATE))
    claim_id = forms.CharField(label="结算号（门诊号）", max_length=64, widget=forms.TextInput(attrs=TEXT))
    total_amount = money_field("医疗总费用（元）")
    out_of_scope_amount = money_field("其中目录外费用（元）")

    def __init__(self, *args: Any, diseases: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choice_field(self, "disease").choices = [("", "请选择病种"), *((d, d) for d in diseases)]


class ReverseForm(forms.Form):
    """冲销 The reason (required)."""

    reason = forms.CharField(label="冲销原因", max_length=300, widget=forms.TextInput(attrs=TEXT))


class SettlementFilterForm(forms.Form):
    """结算列表筛选 Discharge date range, institution, category, status, claim id or name."""

    date_from = forms.DateField(label="出院日期从", required=False, widget=forms.DateInput(attrs=DATE))
    date_to = forms.DateField(label="至", required=False, widget=forms.DateInput(attrs=DATE))
    institution = forms.ChoiceField(label="医疗机构", required=False, widget=forms.Select(attrs=SELECT))
    category = forms.ChoiceField(
        label="结算类别",
        required=False,
        choices=[("", "全部类别"), *CATEGORY_LABELS.items()],
        widget=forms.Select(attrs=SELECT),
    )
    status = forms.ChoiceField(
        label="状态",
        required=False,
        choices=[("", "已结算"), (ClaimStatus.REVERSED.value, ClaimStatus.REVERSED.label)],
        widget=forms.Select(attrs=SELECT),
    )
    q = forms.CharField(
        label="结算号或姓名", required=False, max_length=64, widget=forms.TextInput(attrs=TEXT)
    )

    def __init__(self, *args: Any, institutions: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choice_field(self, "institution").choices = [("", "全部机构"), *institutions]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, last = data.get("date_from"), data.get("date_to")
        if first and last and first > last:
            self.add_error("date_to", "结束日期不能早于开始日期")
        return data


class MonthForm(forms.Form):
    """清算月份 Month ``YYYY-MM`` and (for the county) an institution."""

    month = forms.RegexField(
        label="月份",
        regex=r"^\d{4}-(0[1-9]|1[0-2])$",
        error_messages={"invalid": "月份应为 YYYY-MM，如 2020-03"},
        widget=forms.TextInput(attrs={"type": "month", "class": "form-control"}),
    )
    institution = forms.ChoiceField(label="医疗机构", required=False, widget=forms.Select(attrs=SELECT))

    def __init__(self, *args: Any, institutions: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choice_field(self, "institution").choices = [("", "全部机构"), *institutions]


class ResettleForm(forms.Form):
    """政策调整测算 Year and the policy to re-settle it with (a dry run: nothing is written)."""

    year = forms.IntegerField(
        label="年度", min_value=2000, max_value=2100, widget=forms.NumberInput(attrs=TEXT)
    )
    policy = forms.ChoiceField(label="新政策", widget=forms.Select(attrs=SELECT))

    def __init__(self, *args: Any, policies: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choice_field(self, "policy").choices = policies


# --- 事后补助 ---------------------------------------------------------------------------------------

REFERRED_CHOICES = [("", "按系统中的转诊记录"), ("1", "已转诊备案"), ("0", "未转诊备案")]


class ElsewhereForm(forms.Form):
    """统筹地已结算住院登记 A stay settled by the insurance elsewhere, from its slip (settlement.md §7)."""

    id_number = forms.CharField(
        label="身份证号", max_length=18, widget=forms.TextInput(attrs={**TEXT, "autocomplete": "off"})
    )
    institution = forms.ChoiceField(label="就诊医院", widget=forms.Select(attrs=SELECT))
    claim_id = forms.CharField(label="结算号（结算单号）", max_length=64, widget=forms.TextInput(attrs=TEXT))
    admitted_on = forms.DateField(label="入院日期", widget=forms.DateInput(attrs=DATE))
    discharged_on = forms.DateField(label="出院日期", widget=forms.DateInput(attrs=DATE))
    total_amount = money_field("医疗总费用（元）")
    out_of_scope_amount = money_field("其中目录外费用（元）")
    basic_paid_amount = money_field("基本医保已付（元）")
    critical_paid_amount = money_field("大病保险已付（元）")
    referred = forms.ChoiceField(
        label="转诊备案", required=False, choices=REFERRED_CHOICES, widget=forms.Select(attrs=SELECT)
    )
    attachment = forms.FileField(
        label="结算单照片或PDF",
        required=False,
        widget=forms.ClearableFileInput(attrs={"class": "form-control", "accept": ".jpg,.jpeg,.png,.pdf"}),
    )

    def __init__(self, *args: Any, institutions: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choice_field(self, "institution").choices = [("", "请选择"), *institutions]


class BankAccountForm(forms.Form):
    """银行账号 The subsidy account (社保卡/一卡通) of a person."""

    kind = forms.ChoiceField(label="账户类型", widget=forms.Select(attrs=SELECT))
    account_no = forms.CharField(
        label="银行账号",
        max_length=40,
        widget=forms.TextInput(attrs={**TEXT, "inputmode": "numeric", "autocomplete": "off"}),
    )
    bank_name = forms.CharField(
        label="开户银行", max_length=100, required=False, widget=forms.TextInput(attrs=TEXT)
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choice_field(self, "kind").choices = BankAccountKind.choices


class BatchForm(forms.Form):
    """制作发放批次 The subsidies (claim keys: a claim id is unique only per institution) and a note."""

    claims = forms.TypedMultipleChoiceField(label="补助", coerce=int, widget=forms.CheckboxSelectMultiple)
    note = forms.CharField(label="说明", max_length=300, required=False, widget=forms.TextInput(attrs=TEXT))

    def __init__(self, *args: Any, claim_keys: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choice_field(self, "claims").choices = [(c, c) for c in claim_keys if c.isdigit()]


class ReturnFileForm(forms.Form):
    """银行回盘文件 The bank's return file (.xlsx / .csv)."""

    file = forms.FileField(
        label="银行回盘文件（.xlsx 或 .csv）",
        widget=forms.ClearableFileInput(attrs={"class": "form-control", "accept": ".xlsx,.csv"}),
    )

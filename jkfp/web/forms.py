"""表单 Forms of the web pages: they only parse input; the rules live in selectors and services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.validators import MaxValueValidator
from django.utils import timezone

from jkfp.accounts.models import AuditAction
from jkfp.registry.models import VerificationStatus
from jkfp.registry.years import LIST_MIN_YEAR, list_max_year


def choice_field(form: forms.BaseForm, name: str) -> forms.ChoiceField:
    """The form's choice field ``name``, whose choices a form sets per user."""
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    return field


def model_choice_field(form: forms.BaseForm, name: str) -> forms.ModelChoiceField[Any]:
    """The form's model choice field ``name``, whose queryset a form sets per user."""
    field = form.fields[name]
    assert isinstance(field, forms.ModelChoiceField)
    return field


class PersonSearchForm(forms.Form):
    """人员查询 Name, ID number (full or last digits) and village."""

    q = forms.CharField(
        label="姓名或身份证号",
        required=False,
        max_length=50,
        widget=forms.TextInput(
            attrs={"placeholder": "姓名、完整身份证号或后4位以上", "autocomplete": "off", "type": "search"}
        ),
    )
    village = forms.ChoiceField(
        label="村", required=False, widget=forms.Select(attrs={"class": "form-select"})
    )

    def __init__(self, *args: object, villages: list[tuple[str, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        choice_field(self, "village").choices = [("", "全部村"), *villages]


class VerifyForm(forms.Form):
    """核实核准 Confirm or reject, with a note."""

    status = forms.ChoiceField(
        label="核实结果",
        choices=[(VerificationStatus.CONFIRMED, "核准"), (VerificationStatus.REJECTED, "否决")],
    )
    note = forms.CharField(label="核实说明", required=False, max_length=300)


class ImportForm(forms.Form):
    """导入名单 Source name, list year and the file (the file last: see jkfp.web.uploads)."""

    source = forms.CharField(
        label="来源名单",
        max_length=50,
        widget=forms.TextInput(attrs={"placeholder": "如：国家平台、省系统、扶贫办", "list": "source-names"}),
    )
    year = forms.IntegerField(label="名单年度", min_value=LIST_MIN_YEAR)
    preview = forms.BooleanField(label="先预览，确认后再导入", required=False, initial=True)
    file = forms.FileField(label="名单文件（.csv 或 .xlsx）")

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        _list_year(self.fields["year"])


class EnrolmentImportForm(forms.Form):
    """导入参保名单 The list year and the file (the file last: see jkfp.web.uploads)."""

    year = forms.IntegerField(label="参保年度", min_value=LIST_MIN_YEAR)
    preview = forms.BooleanField(label="先预览，确认后再导入", required=False, initial=True)
    file = forms.FileField(label="参保文件（.csv 或 .xlsx）")

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        _list_year(self.fields["year"])


class CardImportForm(forms.Form):
    """导入慢病卡 The card file (身份证号, 病种, 认定日期, 认定机构, 有效期至)."""

    preview = forms.BooleanField(label="先预览，确认后再导入", required=False, initial=True)
    file = forms.FileField(label="慢病卡文件（.csv 或 .xlsx）")


class BankAccountImportForm(forms.Form):
    """导入银行账号 The subsidy account file (身份证号, 银行账号, 账户类型, 开户银行)."""

    file = forms.FileField(label="银行账号文件（.csv 或 .xlsx）")


def _list_year(field: forms.Field) -> None:
    """名单年度 A list's year: this year by default, at most next year (next year's list comes in autumn)."""
    today = timezone.localdate()
    field.initial = today.year
    field.validators.append(MaxValueValidator(list_max_year(today)))
    field.widget.attrs["max"] = list_max_year(today)


class AuditFilterForm(forms.Form):
    """审计日志筛选 User name, action and a date range."""

    username = forms.CharField(label="用户名", required=False, max_length=150)
    action = forms.ChoiceField(
        label="动作",
        required=False,
        choices=[("", "全部动作"), *AuditAction.choices],
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    date_from = forms.DateField(
        label="起始日期", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label="终止日期", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


class ReconFilterForm(forms.Form):
    """名单比对筛选 Only conflicts, missing from a source, present in a source."""

    only_conflicts = forms.BooleanField(label="只看不一致", required=False)
    missing_source = forms.ChoiceField(
        label="缺少于名单", required=False, widget=forms.Select(attrs={"class": "form-select"})
    )
    present_source = forms.ChoiceField(
        label="出现在名单", required=False, widget=forms.Select(attrs={"class": "form-select"})
    )

    def __init__(self, *args: object, sources: list[str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        choices = [("", "不限"), *((s, s) for s in sources)]
        choice_field(self, "missing_source").choices = choices
        choice_field(self, "present_source").choices = choices

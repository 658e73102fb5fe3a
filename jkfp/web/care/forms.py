"""签约服务表单 Forms of the care pages (parsing only; the rules live in jkfp.care)."""

from __future__ import annotations

from typing import Any

from django import forms

from jkfp.care.models import VisitKind

TOUCH = {"class": "form-control form-control-lg"}


class VisitForm(forms.Form):
    """随访登记 One short form: date, kind, readings, medication, the conditions served."""

    visited_on = forms.DateField(label="随访日期", widget=forms.DateInput(attrs={**TOUCH, "type": "date"}))
    kind = forms.ChoiceField(
        label="随访方式",
        choices=VisitKind.choices,
        initial=VisitKind.HOME,
        widget=forms.RadioSelect(attrs={"class": "btn-check"}),
    )
    diseases = forms.TypedMultipleChoiceField(
        label="本次随访疾病",
        coerce=int,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
    )
    systolic = forms.IntegerField(
        label="收缩压",
        required=False,
        widget=forms.NumberInput(attrs={**TOUCH, "inputmode": "numeric", "placeholder": "mmHg"}),
    )
    diastolic = forms.IntegerField(
        label="舒张压",
        required=False,
        widget=forms.NumberInput(attrs={**TOUCH, "inputmode": "numeric", "placeholder": "mmHg"}),
    )
    glucose = forms.DecimalField(
        label="空腹血糖",
        required=False,
        max_digits=4,
        decimal_places=1,
        widget=forms.NumberInput(
            attrs={**TOUCH, "inputmode": "decimal", "step": "0.1", "placeholder": "mmol/L"}
        ),
    )
    weight = forms.DecimalField(
        label="体重",
        required=False,
        max_digits=5,
        decimal_places=1,
        widget=forms.NumberInput(attrs={**TOUCH, "inputmode": "decimal", "step": "0.1", "placeholder": "kg"}),
    )
    medication = forms.CharField(
        label="用药情况",
        required=False,
        max_length=300,
        widget=forms.TextInput(attrs={**TOUCH, "placeholder": "如：硝苯地平 10mg 每日2次"}),
    )
    adverse_reaction = forms.BooleanField(label="药物不良反应", required=False)
    new_complication = forms.BooleanField(label="新发并发症", required=False)
    unstable = forms.BooleanField(label="病情不稳定", required=False)

    def __init__(self, *args: Any, conditions: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["diseases"].choices = conditions  # type: ignore[attr-defined]


class WorklistForm(forms.Form):
    """工作清单筛选 Section and (for township and county users) a township or village."""

    section = forms.ChoiceField(
        choices=[("overdue", "已逾期"), ("week", "本周到期"), ("unseen", "今年未随访")], required=False
    )
    region = forms.ChoiceField(
        label="乡镇/村", required=False, widget=forms.Select(attrs={"class": "form-select"})
    )

    def __init__(self, *args: Any, regions: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["region"].choices = [("", "全部"), *regions]  # type: ignore[attr-defined]


class RegisterForm(forms.Form):
    """登记簿筛选 Year and township/village of the contract list and registers."""

    year = forms.IntegerField(
        label="年度",
        min_value=2016,
        max_value=2100,
        widget=forms.NumberInput(attrs={"class": "form-control"}),
    )
    region = forms.ChoiceField(
        label="乡镇/村", required=False, widget=forms.Select(attrs={"class": "form-select"})
    )

    def __init__(self, *args: Any, regions: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["region"].choices = [("", "全部"), *regions]  # type: ignore[attr-defined]


class RenewForm(forms.Form):
    """整村续签 The village and the year to renew for."""

    village = forms.CharField(label="村代码", max_length=12)
    year = forms.IntegerField(label="续签年度", min_value=2016, max_value=2100)

"""防返贫监测表单 Forms of the monitoring pages: they only parse input; the rules live in the services."""

from __future__ import annotations

from typing import Any

from django import forms

from jkfp.monitoring.models import CaseStatus, MeasureKind
from jkfp.web.forms import choice_field

SELECT = {"class": "form-select"}
TEXT = {"class": "form-control"}
DATE = {"type": "date", "class": "form-control"}


class QueueFilterForm(forms.Form):
    """预警队列筛选 Year, state, township/village, rule, overdue only."""

    year = forms.TypedChoiceField(
        label="年度", coerce=int, required=False, empty_value=None, widget=forms.Select(attrs=SELECT)
    )
    status = forms.ChoiceField(
        label="状态",
        required=False,
        choices=[("", "全部状态"), ("open", "未结案"), *CaseStatus.choices],
        widget=forms.Select(attrs=SELECT),
    )
    region = forms.ChoiceField(label="乡镇/村", required=False, widget=forms.Select(attrs=SELECT))
    rule = forms.ChoiceField(label="预警规则", required=False, widget=forms.Select(attrs=SELECT))
    overdue = forms.BooleanField(
        label="只看逾期", required=False, widget=forms.CheckboxInput(attrs={"class": "form-check-input"})
    )

    def __init__(
        self,
        *args: Any,
        years: list[int],
        regions: list[tuple[str, str]],
        rules: list[tuple[str, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        choice_field(self, "year").choices = [("", "全部年度"), *((y, f"{y}年") for y in years)]
        choice_field(self, "region").choices = [("", "全部乡镇和村"), *regions]
        choice_field(self, "rule").choices = [("", "全部规则"), *rules]


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """多个附件 Zero or more files (the services check their type and size)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault(
            "widget",
            MultipleFileInput(
                attrs={"class": "form-control", "accept": ".jpg,.jpeg,.png,.pdf,image/*,application/pdf"}
            ),
        )
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        if isinstance(data, list | tuple):
            return [super(MultipleFileField, self).clean(item, initial) for item in data]
        return [] if not data else [super().clean(data, initial)]


class StepForm(forms.Form):
    """办理步骤 The next state, the date, a note, assignee or national reference, attachments."""

    target = forms.ChoiceField(label="办理为", widget=forms.RadioSelect(attrs={"class": "form-check-input"}))
    done_on = forms.DateField(label="办理日期", widget=forms.DateInput(attrs=DATE))
    assignee = forms.TypedChoiceField(
        label="核实责任人（本辖区用户）",
        required=False,
        coerce=int,
        empty_value=None,
        widget=forms.Select(attrs=SELECT),
    )
    assignee_name = forms.CharField(
        label="或填写责任人姓名", required=False, max_length=50, widget=forms.TextInput(attrs=TEXT)
    )
    external_reference = forms.CharField(
        label="国家监测系统编号", required=False, max_length=100, widget=forms.TextInput(attrs=TEXT)
    )
    note = forms.CharField(
        label="说明",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3, "class": "form-control"}),
    )
    attachments = MultipleFileField(label="附件（JPG/PNG/PDF，可多选）", required=False)

    def __init__(
        self, *args: Any, targets: list[tuple[str, str]], assignees: list[tuple[int, str]], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        choice_field(self, "target").choices = targets
        if len(targets) == 1:
            self.fields["target"].initial = targets[0][0]
        choice_field(self, "assignee").choices = [("", "（不选）"), *assignees]


class MeasureForm(forms.Form):
    """健康帮扶措施 Kind, date, the linked record, amount, reference, note."""

    kind = forms.ChoiceField(label="措施类型", choices=MeasureKind.choices, widget=forms.Select(attrs=SELECT))
    taken_on = forms.DateField(label="落实日期", widget=forms.DateInput(attrs=DATE))
    treatment_case = forms.TypedChoiceField(
        label="大病救治记录", required=False, coerce=int, empty_value=None, widget=forms.Select(attrs=SELECT)
    )
    contract = forms.TypedChoiceField(
        label="家庭医生签约", required=False, coerce=int, empty_value=None, widget=forms.Select(attrs=SELECT)
    )
    admission = forms.TypedChoiceField(
        label="先诊疗后付费入院",
        required=False,
        coerce=int,
        empty_value=None,
        widget=forms.Select(attrs=SELECT),
    )
    amount = forms.DecimalField(
        label="金额（元）", required=False, max_digits=14, decimal_places=2, min_value=0,
        widget=forms.NumberInput(attrs={"class": "form-control", "step": "0.01", "inputmode": "decimal"}),
    )  # fmt: skip
    reference = forms.CharField(
        label="关联编号", required=False, max_length=100, widget=forms.TextInput(attrs=TEXT)
    )
    note = forms.CharField(label="说明", required=False, max_length=500, widget=forms.TextInput(attrs=TEXT))

    def __init__(
        self,
        *args: Any,
        treatment_cases: list[tuple[int, str]],
        contracts: list[tuple[int, str]],
        admissions: list[tuple[int, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        choice_field(self, "treatment_case").choices = [("", "（不关联）"), *treatment_cases]
        choice_field(self, "contract").choices = [("", "（不关联）"), *contracts]
        choice_field(self, "admission").choices = [("", "（不关联）"), *admissions]


class OverviewForm(forms.Form):
    """县级概览 The year."""

    year = forms.TypedChoiceField(
        label="年度", coerce=int, required=False, empty_value=None, widget=forms.Select(attrs=SELECT)
    )

    def __init__(self, *args: Any, years: list[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choice_field(self, "year").choices = [(y, f"{y}年") for y in years]

"""大病救治表单 Forms of the treatment pages: they only parse input; the rules live in the services."""

from __future__ import annotations

from django import forms

from jkfp.treatment.models import CaseStatus, ReferralStatus, UntreatedReason
from jkfp.web.forms import choice_field

SELECT = {"class": "form-select"}
DATE = {"type": "date", "class": "form-control"}


class CaseFilterForm(forms.Form):
    """大病救治筛选 Status, disease and township/village."""

    status = forms.ChoiceField(
        label="救治状态",
        required=False,
        choices=[("", "全部状态"), *CaseStatus.choices],
        widget=forms.Select(attrs=SELECT),
    )
    disease = forms.TypedChoiceField(
        label="病种", required=False, coerce=int, empty_value=None, widget=forms.Select(attrs=SELECT)
    )
    region = forms.ChoiceField(label="乡镇/村", required=False, widget=forms.Select(attrs=SELECT))

    def __init__(
        self, *args: object, diseases: list[tuple[int, str]], regions: list[tuple[str, str]], **kwargs: object
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        choice_field(self, "disease").choices = [("", "全部病种"), *diseases]
        choice_field(self, "region").choices = [("", "全部乡镇和村"), *regions]


class CaseStatusForm(forms.Form):
    """设置救治状态 Status, and the reason when untreated."""

    status = forms.ChoiceField(
        label="救治状态", choices=CaseStatus.choices, widget=forms.Select(attrs=SELECT)
    )
    untreated_reason = forms.ChoiceField(
        label="未救治原因",
        required=False,
        choices=[("", "（未救治时必选）"), *UntreatedReason.choices],
        widget=forms.Select(attrs=SELECT),
    )
    reason_note = forms.CharField(
        label="原因说明",
        required=False,
        max_length=300,
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )


class CaseForm(forms.Form):
    """登记大病救治 Person (full ID number), disease, diagnosis, designated hospital and status."""

    id_number = forms.CharField(
        label="身份证号",
        max_length=18,
        widget=forms.TextInput(attrs={"class": "form-control", "autocomplete": "off"}),
    )
    disease = forms.TypedChoiceField(label="病种", coerce=int, widget=forms.Select(attrs=SELECT))
    diagnosed_on = forms.DateField(label="确诊日期", widget=forms.DateInput(attrs=DATE))
    diagnosis_institution = forms.ChoiceField(
        label="确诊医院", required=False, widget=forms.Select(attrs=SELECT)
    )
    diagnosis_hospital_name = forms.CharField(
        label="确诊医院名称（不在列表中时填写）",
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )
    designated_institution = forms.ChoiceField(
        label="定点医院", required=False, widget=forms.Select(attrs=SELECT)
    )
    status = forms.ChoiceField(
        label="救治状态", choices=CaseStatus.choices, widget=forms.Select(attrs=SELECT)
    )
    untreated_reason = forms.ChoiceField(
        label="未救治原因",
        required=False,
        choices=[("", "（未救治时必选）"), *UntreatedReason.choices],
        widget=forms.Select(attrs=SELECT),
    )
    reason_note = forms.CharField(
        label="原因说明",
        required=False,
        max_length=300,
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )

    def __init__(
        self,
        *args: object,
        diseases: list[tuple[int, str]],
        institutions: list[tuple[str, str]],
        **kwargs: object,
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        choice_field(self, "disease").choices = [("", "请选择"), *diseases]
        choice_field(self, "diagnosis_institution").choices = [("", "（不在列表中）"), *institutions]
        choice_field(self, "designated_institution").choices = [("", "（按病种默认定点医院）"), *institutions]


class FollowUpForm(forms.Form):
    """登记回访 Date and what was found."""

    visited_on = forms.DateField(label="回访日期", widget=forms.DateInput(attrs=DATE))
    note = forms.CharField(
        label="回访情况", max_length=500, widget=forms.Textarea(attrs={"rows": 2, "class": "form-control"})
    )


class ReferralForm(forms.Form):
    """转诊备案 Person (full ID number, unless the referral comes from a case page), from, to, date, reason."""

    id_number = forms.CharField(
        label="身份证号",
        max_length=18,
        required=False,
        widget=forms.TextInput(attrs={"class": "form-control", "autocomplete": "off"}),
    )
    from_institution = forms.ChoiceField(label="转出机构", widget=forms.Select(attrs=SELECT))
    to_institution = forms.ChoiceField(label="转入机构", widget=forms.Select(attrs=SELECT))
    referred_on = forms.DateField(label="转诊日期", widget=forms.DateInput(attrs=DATE))
    reason = forms.CharField(
        label="转诊原因", max_length=300, widget=forms.Textarea(attrs={"rows": 2, "class": "form-control"})
    )

    def __init__(
        self, *args: object, institutions: list[tuple[str, str]], person_fixed: bool, **kwargs: object
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        for name in ("from_institution", "to_institution"):
            choice_field(self, name).choices = [("", "请选择"), *institutions]
        if person_fixed:
            del self.fields["id_number"]
        else:
            self.fields["id_number"].required = True


class ReferralDecisionForm(forms.Form):
    """审批转诊 Approve or reject, with a note."""

    decision = forms.ChoiceField(
        label="审批结果", choices=[(ReferralStatus.APPROVED, "批准"), (ReferralStatus.REJECTED, "驳回")]
    )
    note = forms.CharField(label="审批意见", required=False, max_length=300)


class ReferralFilterForm(forms.Form):
    """转诊筛选 Status and township/village."""

    status = forms.ChoiceField(
        label="审批状态",
        required=False,
        choices=[("", "全部状态"), *ReferralStatus.choices],
        widget=forms.Select(attrs=SELECT),
    )
    region = forms.ChoiceField(label="乡镇/村", required=False, widget=forms.Select(attrs=SELECT))

    def __init__(self, *args: object, regions: list[tuple[str, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        choice_field(self, "region").choices = [("", "全部乡镇和村"), *regions]

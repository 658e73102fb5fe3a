"""签约服务表单 Forms of the care pages (parsing only; the rules live in jkfp.care)."""

from __future__ import annotations

from typing import Any

from django import forms

from jkfp.care import services
from jkfp.care.models import MemberRole, VisitKind
from jkfp.web.forms import choice_field, model_choice_field

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
        choice_field(self, "diseases").choices = conditions


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
        choice_field(self, "region").choices = [("", "全部"), *regions]


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
        choice_field(self, "region").choices = [("", "全部"), *regions]


class RenewForm(forms.Form):
    """整村续签 The village and the year to renew for."""

    village = forms.CharField(label="村代码", max_length=12)
    year = forms.IntegerField(label="续签年度", min_value=2016, max_value=2100)


class CareImportForm(forms.Form):
    """导入签约/随访 The kind of file and the file (the file last: see jkfp.web.uploads)."""

    kind = forms.ChoiceField(
        label="导入类型",
        choices=[("contracts", "家庭医生签约"), ("followups", "随访记录")],
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    preview = forms.BooleanField(label="先预览，确认后再导入", required=False, initial=True)
    file = forms.FileField(label="文件（.csv 或 .xlsx）")


def _date(label: str, required: bool = True) -> forms.DateField:
    return forms.DateField(
        label=label, required=required, widget=forms.DateInput(attrs={**TOUCH, "type": "date"})
    )


class CheckupForm(forms.Form):
    """体检登记 Date, the common items, any other items (one per line, 项目：结果), the conclusion."""

    QUICK = (
        ("height", "身高（cm）"),
        ("weight", "体重（kg）"),
        ("bp", "血压（mmHg）"),
        ("glucose", "空腹血糖（mmol/L）"),
    )

    checked_on = _date("体检日期")
    height = forms.CharField(
        label="身高（cm）",
        required=False,
        max_length=20,
        widget=forms.TextInput(attrs={**TOUCH, "inputmode": "decimal"}),
    )
    weight = forms.CharField(
        label="体重（kg）",
        required=False,
        max_length=20,
        widget=forms.TextInput(attrs={**TOUCH, "inputmode": "decimal"}),
    )
    bp = forms.CharField(
        label="血压（mmHg）",
        required=False,
        max_length=20,
        widget=forms.TextInput(attrs={**TOUCH, "placeholder": "如：132/84"}),
    )
    glucose = forms.CharField(
        label="空腹血糖（mmol/L）",
        required=False,
        max_length=20,
        widget=forms.TextInput(attrs={**TOUCH, "inputmode": "decimal"}),
    )
    other_items = forms.CharField(
        label="其他体检项目",
        required=False,
        max_length=3000,
        widget=forms.Textarea(
            attrs={"class": "form-control", "rows": 3, "placeholder": "每行一项，如：心电图：正常"}
        ),
    )
    conclusion = forms.CharField(
        label="体检结论", required=False, max_length=300, widget=forms.TextInput(attrs=TOUCH)
    )

    def clean_other_items(self) -> dict[str, str]:
        items: dict[str, str] = {}
        for n, line in enumerate(self.cleaned_data["other_items"].splitlines(), start=1):
            line = line.strip()
            if not line:
                continue
            name, sep, value = line.replace(":", "：").partition("：")
            if not sep or not name.strip() or not value.strip():
                raise forms.ValidationError(f"第{n}行应为“项目：结果”，如“心电图：正常”")
            if len(name.strip()) > 50 or len(value.strip()) > 100:
                raise forms.ValidationError(f"第{n}行过长（项目不超过50字，结果不超过100字）")
            items[name.strip()] = value.strip()
        return items

    def items(self) -> dict[str, str]:
        """The items to store: the filled common ones, then the other lines."""
        out = {
            label: self.cleaned_data[name].strip()
            for name, label in self.QUICK
            if self.cleaned_data[name].strip()
        }
        out.update(self.cleaned_data["other_items"])
        return out


class DeliveryForm(forms.Form):
    """送药登记 Date, medicines, days of supply (at most 3 months)."""

    delivered_on = _date("送药日期")
    drugs = forms.CharField(
        label="药品",
        max_length=300,
        widget=forms.TextInput(attrs={**TOUCH, "placeholder": "如：硝苯地平缓释片 30mg×60片"}),
    )
    supply_days = forms.IntegerField(
        label="用药天数",
        min_value=1,
        max_value=92,
        error_messages={
            "min_value": services.ERR_SUPPLY_DAYS,
            "max_value": services.ERR_SUPPLY_DAYS,
            "invalid": services.ERR_SUPPLY_DAYS,
        },
        widget=forms.NumberInput(attrs={**TOUCH, "inputmode": "numeric", "placeholder": "1–92"}),
    )


class CardForm(forms.Form):
    """办理慢病卡 Disease, certification date, validity, card number."""

    disease: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        label="病种", queryset=None, widget=forms.Select(attrs={"class": "form-select form-select-lg"})
    )
    certified_on = _date("认定日期")
    valid_to = _date("有效期至", required=False)
    card_no = forms.CharField(
        label="卡号", required=False, max_length=40, widget=forms.TextInput(attrs=TOUCH)
    )

    def __init__(self, *args: Any, diseases: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        model_choice_field(self, "disease").queryset = diseases


class HealthRecordForm(forms.Form):
    """建立健康档案 Opening date and record number."""

    opened_on = _date("建档日期")
    record_no = forms.CharField(
        label="档案编号", required=False, max_length=40, widget=forms.TextInput(attrs=TOUCH)
    )


class TeamForm(forms.Form):
    """新建团队 Township and name."""

    township = forms.ChoiceField(label="乡镇", widget=forms.Select(attrs={"class": "form-select"}))
    name = forms.CharField(
        label="团队名称", max_length=100, widget=forms.TextInput(attrs={"class": "form-control"})
    )

    def __init__(self, *args: Any, townships: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choice_field(self, "township").choices = townships


class TeamRenameForm(forms.Form):
    """改团队名称"""

    name = forms.CharField(
        label="团队名称", max_length=100, widget=forms.TextInput(attrs={"class": "form-control"})
    )


class MemberForm(forms.Form):
    """加团队成员 Name, role, phone, and the staff record (卫生人员) of the township it is (optional)."""

    name = forms.CharField(
        label="姓名", max_length=50, widget=forms.TextInput(attrs={"class": "form-control"})
    )
    role = forms.ChoiceField(
        label="团队角色",
        choices=MemberRole.choices,
        initial=MemberRole.DOCTOR,
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    phone = forms.CharField(
        label="联系电话",
        required=False,
        max_length=40,
        widget=forms.TextInput(attrs={"class": "form-control", "inputmode": "tel"}),
    )
    staff = forms.TypedChoiceField(
        label="对应卫生人员（不选则按姓名自动关联）",
        coerce=int,
        required=False,
        empty_value=None,
        widget=forms.Select(attrs={"class": "form-select"}),
    )

    def __init__(self, *args: Any, staff: list[tuple[int, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["staff"].choices = [("", "—"), *(staff or [])]  # type: ignore[attr-defined]


class AssignForm(forms.Form):
    """指定家庭医生 The member and the start date."""

    member = forms.TypedChoiceField(
        label="家庭医生", coerce=int, widget=forms.Select(attrs={"class": "form-select form-select-lg"})
    )
    start_on = _date("起始日期")

    def __init__(self, *args: Any, members: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choice_field(self, "member").choices = members


class VoidForm(forms.Form):
    """作废记录 The reason (2–200 characters), kept in the audit log with the deleted values."""

    reason = forms.CharField(
        label="作废原因",
        min_length=services.VOID_REASON_MIN,
        max_length=services.VOID_REASON_MAX,
        error_messages={
            "required": services.ERR_VOID_REASON,
            "min_length": services.ERR_VOID_REASON,
            "max_length": services.ERR_VOID_REASON,
        },
        widget=forms.TextInput(attrs={"class": "form-control", "placeholder": "如：录入错误，需重新登记"}),
    )

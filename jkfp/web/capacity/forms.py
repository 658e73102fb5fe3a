"""基层能力页面表单 Filters of the capacity pages."""

from __future__ import annotations

from django import forms

from jkfp.capacity.models import Qualification, StaffPost
from jkfp.regions.models import InstitutionKind


class RegionDateForm(forms.Form):
    """区划与统计日期 Which region (inside the user's) and which date to assess."""

    region = forms.CharField(label="区划", max_length=12, required=False)
    as_of = forms.DateField(label="统计日期", required=False, widget=forms.DateInput(attrs={"type": "date"}))


class InstitutionFilterForm(forms.Form):
    """机构筛选"""

    region = forms.CharField(label="区划", max_length=12, required=False)
    kind = forms.ChoiceField(
        label="类型", choices=[("", "全部类型"), *InstitutionKind.choices], required=False
    )


class StaffFilterForm(forms.Form):
    """人员筛选"""

    region = forms.CharField(label="区划", max_length=12, required=False)
    institution = forms.CharField(label="机构代码", max_length=40, required=False)
    post = forms.ChoiceField(label="岗位", choices=[("", "全部岗位"), *StaffPost.choices], required=False)
    qualification = forms.ChoiceField(
        label="资质", choices=[("", "全部资质"), *Qualification.choices], required=False
    )
    name = forms.CharField(label="姓名", max_length=50, required=False)
    on = forms.DateField(label="在岗日期", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    history = forms.BooleanField(label="含已离岗", required=False)


class YearForm(forms.Form):
    """年度"""

    region = forms.CharField(label="区划", max_length=12, required=False)
    year = forms.IntegerField(label="年度", min_value=2000, max_value=2100, required=False)


class RectifyForm(forms.Form):
    """空白点转整改"""

    subject = forms.CharField(max_length=80)
    as_of = forms.DateField()


class CapacityImportForm(forms.Form):
    """导入基层能力数据 The kind of file and the file (the file last: see jkfp.web.uploads)."""

    kind = forms.ChoiceField(
        label="导入类型",
        choices=[
            ("staff", "卫生人员"),
            ("support", "对口帮扶"),
            ("telemedicine", "远程医疗"),
            ("training", "培训"),
        ],
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    preview = forms.BooleanField(label="先预览，确认后再导入", required=False, initial=True)
    file = forms.FileField(label="文件（.csv 或 .xlsx）")

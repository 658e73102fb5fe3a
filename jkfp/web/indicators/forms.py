"""指标页面表单 Forms of the indicator pages."""

from __future__ import annotations

from django import forms

from jkfp.indicators.models import RectificationStatus


class YearRegionForm(forms.Form):
    """年度与区划 Which year and region (inside the user's) to show."""

    year = forms.IntegerField(label="年度", min_value=2016, max_value=2100, required=False)
    region = forms.CharField(label="区划", max_length=12, required=False)


class RectificationForm(forms.Form):
    """登记整改问题"""

    region_code = forms.CharField(label="区划", max_length=12)
    finding = forms.CharField(label="发现问题", max_length=500, widget=forms.Textarea(attrs={"rows": 2}))
    source = forms.CharField(label="问题来源", max_length=100, required=False)
    owner = forms.CharField(label="责任人", max_length=100)
    deadline_on = forms.DateField(label="整改时限", widget=forms.DateInput(attrs={"type": "date"}))
    measures = forms.CharField(label="整改措施", max_length=500, required=False)


class RectificationUpdateForm(forms.Form):
    """更新整改状态"""

    status = forms.ChoiceField(label="状态", choices=RectificationStatus.choices)
    evidence = forms.CharField(label="佐证材料", max_length=500, required=False)
    measures = forms.CharField(label="整改措施", max_length=500, required=False)

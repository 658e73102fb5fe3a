"""日期输入格式 Date widgets render ISO dates (what ``<input type="date">`` accepts) under zh-hans."""

from __future__ import annotations

from datetime import date

from django import forms
from django.utils import translation


class _Form(forms.Form):
    on = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))


def test_date_widget_renders_iso_and_chinese_spellings_still_parse() -> None:
    with translation.override("zh-hans"):
        assert 'value="2026-11-23"' in str(_Form(initial={"on": date(2026, 11, 23)})["on"])
        for text in ("2026-11-23", "2026/11/23", "2026年11月23日"):
            form = _Form({"on": text})
            assert form.is_valid(), text
            assert form.cleaned_data["on"] == date(2026, 11, 23)

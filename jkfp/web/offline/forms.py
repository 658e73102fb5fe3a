"""离线设备表单 The revocation form of the county administrator's device page."""

from __future__ import annotations

from django import forms


class RevokeForm(forms.Form):
    """吊销设备 Why the phone is revoked (lost, left logged in, the doctor left)."""

    reason = forms.CharField(
        label="吊销原因",
        min_length=2,
        max_length=200,
        widget=forms.TextInput(
            attrs={"class": "form-control form-control-sm", "placeholder": "如：手机丢失"}
        ),
    )

"""密码规则 Django's password validators, with the Chinese message Django's catalogue lacks.

Django 5.2's zh_Hans translation has no entry for the minimum-length message ("This password is too
short…"), so a Chinese page would show it in English; this subclass says it in Chinese when Chinese
is the active language (every page; the command line asks for both languages).
"""

from __future__ import annotations

from django.contrib.auth import password_validation
from django.utils import translation


class MinimumLengthValidator(password_validation.MinimumLengthValidator):
    """密码长度 At least ``min_length`` characters (8 in settings)."""

    def get_error_message(self) -> str:
        if (translation.get_language() or "").startswith("zh"):
            return f"密码太短，至少需要 {self.min_length} 个字符。"
        return str(super().get_error_message())

    def get_help_text(self) -> str:
        if (translation.get_language() or "").startswith("zh"):
            return f"密码至少需要 {self.min_length} 个字符。"
        return str(super().get_help_text())

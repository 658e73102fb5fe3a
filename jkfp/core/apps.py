from django.apps import AppConfig

from jkfp.core import fonts


class CoreConfig(AppConfig):
    name = "jkfp.core"
    label = "core"
    verbose_name = "共享内核"
    # The CJK font system check (jkfp.E001) is registered by importing jkfp.core.fonts.
    checks = (fonts.check_cjk_font,)

from django.apps import AppConfig


class IndicatorsConfig(AppConfig):
    name = "jkfp.indicators"
    label = "indicators"
    verbose_name = "指标与台账"

from django.apps import AppConfig


class SettlementConfig(AppConfig):
    name = "jkfp.settlement"
    label = "settlement"
    verbose_name = "一站式结算"

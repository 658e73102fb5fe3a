from django.apps import AppConfig


class OfflineConfig(AppConfig):
    name = "jkfp.offline"
    label = "offline"
    verbose_name = "村医离线应用"

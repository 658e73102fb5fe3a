from django.apps import AppConfig


class CareConfig(AppConfig):
    name = "jkfp.care"
    label = "care"
    verbose_name = "慢病签约服务管理"

    def ready(self) -> None:
        from jkfp.care.receivers import on_data_changed  # noqa: PLC0415 (in ready(): the app registry must be loaded first)
        from jkfp.core.signals import data_changed  # noqa: PLC0415 (in ready(): the app registry must be loaded first)

        data_changed.connect(on_data_changed, dispatch_uid="jkfp.care.on_data_changed")

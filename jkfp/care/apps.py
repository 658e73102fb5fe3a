from django.apps import AppConfig


class CareConfig(AppConfig):
    name = "jkfp.care"
    label = "care"
    verbose_name = "慢病签约服务管理"

    def ready(self) -> None:
        from jkfp.care.receivers import on_data_changed
        from jkfp.core.signals import data_changed

        data_changed.connect(on_data_changed, dispatch_uid="jkfp.care.on_data_changed")

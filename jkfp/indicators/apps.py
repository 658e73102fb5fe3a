from django.apps import AppConfig


class IndicatorsConfig(AppConfig):
    name = "jkfp.indicators"
    label = "indicators"
    verbose_name = "指标与台账"

    def ready(self) -> None:
        # Queue a snapshot refresh after every committed change (imports, settlements, scans).
        from jkfp.core.signals import data_changed  # noqa: PLC0415 (in ready(): the app registry must be loaded first)
        from jkfp.indicators.refresh import on_data_changed  # noqa: PLC0415 (in ready(): the app registry must be loaded first)

        data_changed.connect(on_data_changed, dispatch_uid="jkfp.indicators.refresh")

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "jkfp.accounts"
    label = "accounts"
    verbose_name = "用户与审计"

    def ready(self) -> None:
        from jkfp.accounts import signals  # noqa: PLC0415 (models are loaded only once the app is ready)

        signals.connect()

from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "jkfp.registry"
    label = "registry"
    verbose_name = "人员花名册"

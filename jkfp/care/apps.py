from django.apps import AppConfig


class CareConfig(AppConfig):
    name = "jkfp.care"
    label = "care"
    verbose_name = "慢病签约服务管理"

from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "jkfp.web"
    label = "web"
    verbose_name = "网页"

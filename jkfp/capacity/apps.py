from django.apps import AppConfig


class CapacityConfig(AppConfig):
    name = "jkfp.capacity"
    label = "capacity"
    verbose_name = "基层医疗卫生服务能力"

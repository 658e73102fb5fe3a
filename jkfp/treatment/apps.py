from django.apps import AppConfig


class TreatmentConfig(AppConfig):
    name = "jkfp.treatment"
    label = "treatment"
    verbose_name = "大病专项救治"

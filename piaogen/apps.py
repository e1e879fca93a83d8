from django.apps import AppConfig


class PiaogenConfig(AppConfig):
    name = "piaogen"
    verbose_name = "票根"

    def ready(self) -> None:
        from . import celery as celery_module

        celery_module.ensure_broker_dirs()

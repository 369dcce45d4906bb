from django.apps import AppConfig


class RuntimeConfig(AppConfig):
    name = "tracker.runtime"
    label = "runtime"

from django.apps import AppConfig


class MarketsConfig(AppConfig):
    name = "tracker.markets"
    label = "markets"
    verbose_name = "Markets"

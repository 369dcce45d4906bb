from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "tracker.dashboard"
    label = "dashboard"
    verbose_name = "Dashboard"

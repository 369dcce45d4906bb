from django.contrib import admin

from .models import Exchange, Metric, Pair


@admin.register(Exchange)
class ExchangeAdmin(admin.ModelAdmin):
    list_display = ["name", "base_url", "created_at"]


@admin.register(Pair)
class PairAdmin(admin.ModelAdmin):
    list_display = ["symbol", "exchange", "status", "status_reason", "status_changed_at"]
    list_filter = ["exchange", "status"]
    search_fields = ["symbol"]


@admin.register(Metric)
class MetricAdmin(admin.ModelAdmin):
    list_display = ["id", "pair", "kind"]
    list_filter = ["kind", "pair__exchange"]
    search_fields = ["pair__symbol"]
    list_select_related = ["pair"]

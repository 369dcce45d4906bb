from django.contrib import admin

from .models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["prefix", "user", "created_at", "expires_at", "last_used_at"]
    list_filter = ["expires_at"]
    search_fields = ["user__username", "prefix"]
    readonly_fields = ["prefix", "user", "created_at", "expires_at", "last_used_at"]

    def has_add_permission(self, request: object) -> bool:
        return False  # keys are issued through the API, where the key is shown once

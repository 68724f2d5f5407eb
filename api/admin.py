from django.contrib import admin

from .models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("user", "name", "created_at", "last_used_at")
    readonly_fields = ("user", "token_hash", "created_at", "last_used_at")

    def has_add_permission(self, request) -> bool:
        # Tokens are made by `manage.py create_api_token`, which can show the raw token once.
        return False

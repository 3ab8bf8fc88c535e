from django.apps import AppConfig


class ApiTokensConfig(AppConfig):
    """Per-user API tokens: stored as SHA-256 hashes, shown once, revocable, audited."""

    name = "ringadmin.api_tokens"
    label = "api_tokens"
    verbose_name = "API tokens"
    admins_manage_models = True  # Admins hold every permission of its models

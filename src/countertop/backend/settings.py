"""Configuration, read from environment variables (and a `.env` file in the working directory)."""

from __future__ import annotations

from functools import cached_property
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./countertop.db"


class Settings(BaseSettings):
    """Every setting has a documented default; `countertop doctor` explains what is missing."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    stripe_secret_key: SecretStr | None = Field(default=None, alias="STRIPE_SECRET_KEY")
    stripe_webhook_secret: SecretStr | None = Field(default=None, alias="STRIPE_WEBHOOK_SECRET")
    # Only set when the API is somewhere other than Stripe (the emulator): the backend reaches it
    # through the stripe library's base address and nothing else.
    stripe_api_base: str | None = Field(default=None, alias="STRIPE_API_BASE")
    stripe_max_network_retries: int = Field(default=2, alias="STRIPE_MAX_NETWORK_RETRIES")
    database_url: str = Field(default=DEFAULT_DATABASE_URL, alias="DATABASE_URL")
    public_url: str | None = Field(default=None, alias="COUNTERTOP_PUBLIC_URL")
    emulator: bool = Field(default=False, alias="COUNTERTOP_EMULATOR")
    admin_credential: SecretStr | None = Field(default=None, alias="COUNTERTOP_ADMIN_CREDENTIAL")
    operator_credential: SecretStr | None = Field(
        default=None, alias="COUNTERTOP_OPERATOR_CREDENTIAL"
    )
    session_secret: SecretStr | None = Field(default=None, alias="COUNTERTOP_SESSION_SECRET")
    capture_method: Literal["manual", "automatic"] = Field(
        default="manual", alias="COUNTERTOP_CAPTURE_METHOD"
    )
    auto_capture: bool = Field(default=True, alias="COUNTERTOP_AUTO_CAPTURE")
    currency: str = Field(default="usd", alias="COUNTERTOP_CURRENCY")
    sweep_interval_seconds: float = Field(default=5.0, alias="COUNTERTOP_SWEEP_INTERVAL")
    webhook_grace_seconds: float = Field(default=10.0, alias="COUNTERTOP_WEBHOOK_GRACE")
    reader_action_timeout_seconds: float = Field(
        default=300.0, alias="COUNTERTOP_READER_ACTION_TIMEOUT"
    )
    smtp_url: str | None = Field(default=None, alias="COUNTERTOP_SMTP_URL")
    # The business name printed on receipts; each location's display name when unset.
    merchant_name: str | None = Field(default=None, alias="COUNTERTOP_MERCHANT_NAME")
    # The daily reconciliation of the day before: local time HH:MM in reconcile_tz, or "off".
    reconcile_at: str = Field(default="02:00", alias="COUNTERTOP_RECONCILE_AT")
    reconcile_tz: str = Field(default="UTC", alias="COUNTERTOP_RECONCILE_TZ")
    reconcile_fix: bool = Field(default=False, alias="COUNTERTOP_RECONCILE_FIX")
    # Payments younger than this are left out of a reconciliation (they may still be on a reader).
    reconcile_settle_minutes: float = Field(
        default=15.0, ge=0, alias="COUNTERTOP_RECONCILE_SETTLE_MINUTES"
    )
    log_format: Literal["text", "json"] = Field(default="text", alias="COUNTERTOP_LOG_FORMAT")
    log_level: str = Field(default="INFO", alias="COUNTERTOP_LOG_LEVEL")

    @cached_property
    def mode(self) -> Literal["emulator", "test", "live"]:
        if self.emulator:
            return "emulator"
        key = self.stripe_secret_key.get_secret_value() if self.stripe_secret_key else ""
        return "live" if key.startswith(("sk_live_", "rk_live_")) else "test"

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith("postgresql")

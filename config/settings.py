"""One typed settings object: YAML defaults (``config/shopbot.yaml``), then ``SHOPBOT_*`` overrides.

Every leaf key ``section.key`` can be overridden by the environment variable
``SHOPBOT_SECTION_KEY`` (``server.port`` -> ``SHOPBOT_SERVER_PORT``; top-level ``data_dir`` ->
``SHOPBOT_DATA_DIR``). Secrets are never read from YAML: they come only from the environment
(see :class:`Secrets`). A bad value fails at start-up with a :class:`~core.errors.ConfigError`
naming the key.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.errors import ConfigError

__all__ = [
    "CONFIG_DIR",
    "CRMSettings",
    "DeliverySettings",
    "DialogueSettings",
    "LLMSettings",
    "LearningSettings",
    "NLUSettings",
    "PrivacySettings",
    "Secrets",
    "ServerSettings",
    "Settings",
    "SlackSettings",
    "SpellingSettings",
    "StorageSettings",
    "TelegramSettings",
    "TwilioSettings",
    "WebSettings",
    "load_settings",
]

CONFIG_DIR = Path(__file__).resolve().parent
DEFAULT_CONFIG_FILE = CONFIG_DIR / "shopbot.yaml"
ENV_PREFIX = "SHOPBOT_"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    max_text_chars: int = Field(2000, ge=1)
    max_body_bytes: int = Field(65536, ge=1024)


class StorageSettings(_Section):
    url: str | None = None
    """SQLAlchemy async URL; ``None`` means SQLite in the data directory."""
    echo: bool = False


class SpellingSettings(_Section):
    enabled: bool = True
    max_word_length: int = Field(18, ge=3)
    distance2_max_length: int = Field(12, ge=1)
    cache_size: int = Field(20000, ge=0)


class NLUSettings(_Section):
    training_data: Path = Path("intents.yaml")
    threshold: float | None = Field(None, ge=0.0, le=1.0)
    """``None``: use the threshold calibrated on held-out data at training time."""


class DialogueSettings(_Section):
    max_clarifications: int = Field(2, ge=0)
    verification_max_failures: int = Field(5, ge=1)
    verification_lockout_minutes: int = Field(15, ge=1)
    verification_ttl_minutes: int = Field(30, ge=1)


class PrivacySettings(_Section):
    redact_personal_data: bool = True


class WebSettings(_Section):
    """The website chat widget (channels/web)."""

    enabled: bool = True
    allowed_origins: tuple[str, ...] = ()
    """Origins (``https://shop.example``) whose pages may embed the widget; the server's own
    origin is always allowed. In the environment: comma-separated."""
    messages_per_minute: int = Field(20, ge=1)
    """Per conversation; over it a message is refused with a clear message."""
    ip_messages_per_minute: int = Field(120, ge=1)
    """Per client IP address, over all its conversations (connections count too)."""
    sockets_per_ip: int = Field(20, ge=1)
    """Open chat connections per client IP address."""
    trust_proxy_headers: bool = False
    """Behind a reverse proxy: take the client IP from X-Forwarded-For and the public origin
    from X-Forwarded-Proto/-Host. Only when the proxy sets them: clients could forge them."""
    token_max_age_days: int = Field(30, ge=1)
    """How long a browser's conversation token stays valid."""

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip().rstrip("/") for part in value.split(",") if part.strip())
        return value


def _comma_separated(value: object) -> object:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


class TelegramSettings(_Section):
    """Telegram (channels/telegram); on when ``TELEGRAM_BOT_TOKEN`` is set."""

    api_url: str = "https://api.telegram.org"
    """The Bot API server (a self-hosted one, a proxy or a test server)."""
    mode: Literal["webhook", "polling"] = "webhook"
    """``webhook``: Telegram posts to ``/webhooks/telegram`` (needs TELEGRAM_WEBHOOK_SECRET);
    ``polling``: shopbot fetches updates itself (local development, no public URL)."""
    share_phone_button: bool = True
    """Offer a "share my phone number" button when the bot asks for an email."""


class TwilioSettings(_Section):
    """SMS and WhatsApp through Twilio (channels/twilio); on when the Twilio account
    credentials and at least one sender number are set."""

    api_url: str = "https://api.twilio.com"
    sms_number: str | None = None
    """The shop's Twilio phone number replies to SMS come from (E.164, ``+15550001111``)."""
    whatsapp_number: str | None = None
    """The shop's WhatsApp sender (E.164, without the ``whatsapp:`` prefix)."""


class SlackSettings(_Section):
    """Slack for the shop's support staff (channels/slack); on when ``SLACK_BOT_TOKEN`` and
    ``SLACK_SIGNING_SECRET`` are set."""

    api_url: str = "https://slack.com/api/"
    staff_teams: tuple[str, ...] = ()
    """Workspace (team) ids whose members are the shop's staff and may read any order.
    In the environment: comma-separated."""

    _split_teams = field_validator("staff_teams", mode="before")(_comma_separated)


class DeliverySettings(_Section):
    """Replies sent on messaging platforms (Telegram, Twilio, Slack) through the outbox."""

    max_attempts: int = Field(6, ge=1)
    """Attempts at sending one message before it is given up as a recorded failure."""
    base_delay_seconds: float = Field(1.0, gt=0)
    """First retry delay after a platform error; doubled on each further attempt."""
    max_delay_seconds: float = Field(300.0, gt=0)
    send_timeout_seconds: float = Field(30.0, gt=0)
    concurrency: int = Field(4, ge=1)
    """Conversations answered, and messages sent, at the same time."""
    poll_interval_seconds: float = Field(5.0, gt=0)
    """How often the outbox and inbox are checked for work queued by other processes."""


class LLMSettings(_Section):
    """The language model (core/llm): used exactly when its key is in the environment
    (``OPENAI_API_KEY``, or the variable named by ``api_key_env``); without one the local
    pipeline answers alone, as before. A local server that needs no key (Ollama, llama.cpp)
    still needs the variable set, to any value: the key is the one switch that turns the
    model on.
    """

    provider: Literal["openai", "azure"] = "openai"
    """``openai``: OpenAI or any OpenAI-compatible server (``base_url``); ``azure``: Azure
    OpenAI (``azure_endpoint``; ``model`` is then the deployment name)."""
    # A GPT-4-class model with structured outputs, cheap and fast enough to sit inside a
    # chat turn; shops wanting more pay per token for e.g. gpt-4o.
    model: str = Field("gpt-4o-mini", min_length=1)
    base_url: str | None = None
    """An OpenAI-compatible server (``http://localhost:11434/v1`` for Ollama, a vLLM or
    llama.cpp server); ``None``: OpenAI's own API."""
    azure_endpoint: str | None = None
    """``https://RESOURCE.openai.azure.com`` (provider ``azure`` only)."""
    azure_api_version: str = Field("2024-10-21", min_length=1)
    """The Azure OpenAI REST API version (this one is GA and has structured outputs)."""
    timeout_seconds: float = Field(3.0, gt=0)
    """Per attempt; a call that takes longer counts as unavailable."""
    max_retries: int = Field(2, ge=0)
    """Retries after a 429, a 5xx, a timeout or a connection error (with back-off)."""
    max_tokens: int = Field(400, ge=1)
    """Upper bound on the tokens the model may generate per call."""
    api_key_env: str = Field("OPENAI_API_KEY", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """The NAME of the environment variable holding the key (the key itself is never
    configured in a file)."""
    breaker_failures: int = Field(5, ge=1)
    """Consecutive failed calls after which the model is not called for a while..."""
    breaker_cooldown_seconds: float = Field(30.0, gt=0)
    """...this long; then one trial call decides whether it is back."""
    cascade_threshold: float = Field(0.75, ge=0.0, le=1.0)
    """The local intent classifier's confidence under which a message also goes to the
    model. Higher: more messages reach the model (better understanding, more cost and
    latency); 0 never asks it. 0.75 sends roughly the uncertain quarter of messages."""
    call_deadline_seconds: float = Field(4.0, gt=0)
    """The longest one stage waits for the model, retries included; then the local answer."""
    phrasing: Literal["off", "articles_and_other_languages", "all"] = "articles_and_other_languages"
    """Which fact-grounded answers the model rephrases: ``all`` of them; only help-article
    answers and answers to customers writing in another language than English (the default:
    the templates already read well in English, and each phrasing is one more call); or
    ``off``."""

    @field_validator("azure_api_version", mode="before")
    @classmethod
    def _version_as_text(cls, value: object) -> object:
        # Unquoted in YAML, 2024-10-21 is read as a date.
        return value.isoformat() if isinstance(value, date) else value

    @model_validator(mode="after")
    def _azure_needs_endpoint(self) -> LLMSettings:
        if self.provider == "azure" and not self.azure_endpoint:
            raise ValueError("azure_endpoint is required when provider is azure")
        return self


class LearningSettings(_Section):
    """The learning loop (core/learning): mining logged conversations for new examples,
    training, and promoting a model only when it measurably does not get worse."""

    window_turns: int = Field(3, ge=1)
    """A failed message counts as a rephrasing of a later successful one only this many
    customer messages before it..."""
    window_minutes: float = Field(10.0, gt=0)
    """...and only this long before it. A conversation whose customer wrote less than this long
    ago may still be going on: mining leaves it for a later run."""
    min_words: int = Field(2, ge=1)
    """Shorter candidates carry too little to learn from."""
    min_similarity: float = Field(0.15, ge=0.0, le=1.0)
    """How close (0..1) a failed message must be to the successful one to be taken as the
    same request; further ones are dropped."""
    auto_accept_score: float | None = Field(None, ge=0.0, le=1.0)
    """Candidates scoring at least this are accepted without review; ``None``: review all."""
    max_f1_drop: float = Field(0.02, ge=0.0, le=1.0)
    """A new model is refused when any intent's F1 on the frozen evaluation set drops by more
    than this (or the macro-F1 drops at all)."""
    reload_interval_seconds: float = Field(30.0, gt=0)
    """How often a running server checks for a newly promoted model."""


class CRMSettings(_Section):
    adapter: str = Field("demo", pattern="^(demo)$")
    demo_database: Path | None = None
    """``None``: ``demo_shop.sqlite3`` in the data directory."""


class Secrets(_Section):
    """Read only from the environment, never from YAML."""

    api_token: str | None = None  # SHOPBOT_API_TOKEN
    web_secret: str | None = None  # SHOPBOT_WEB_SECRET: signs widget conversation tokens
    web_identity_secret: str | None = None  # SHOPBOT_WEB_IDENTITY_SECRET: shared with the shop
    # Platform credentials, under the names the platforms' own tools use.
    telegram_bot_token: str | None = None  # TELEGRAM_BOT_TOKEN
    telegram_webhook_secret: str | None = None  # TELEGRAM_WEBHOOK_SECRET
    twilio_account_sid: str | None = None  # TWILIO_ACCOUNT_SID
    twilio_auth_token: str | None = None  # TWILIO_AUTH_TOKEN
    slack_bot_token: str | None = None  # SLACK_BOT_TOKEN
    slack_signing_secret: str | None = None  # SLACK_SIGNING_SECRET
    # The language model's key: OPENAI_API_KEY, or the variable named by llm.api_key_env.
    openai_api_key: str | None = Field(None, repr=False)

    @staticmethod
    def env_var(name: str) -> str:
        """The environment variable secret ``name`` is read from."""
        return name.upper() if name in _PLATFORM_SECRETS else f"{ENV_PREFIX}{name.upper()}"


_PLATFORM_SECRETS = frozenset(
    {
        "telegram_bot_token",
        "telegram_webhook_secret",
        "twilio_account_sid",
        "twilio_auth_token",
        "slack_bot_token",
        "slack_signing_secret",
        "openai_api_key",
    }
)


class Settings(_Section):
    data_dir: Path = Path("var")
    responses: Path = Path("responses.yaml")
    public_url: str | None = None
    """The address the platforms reach this server at (``https://bot.shop.example``), as
    configured on their side; Twilio signs its webhooks with it."""
    server: ServerSettings = ServerSettings()
    storage: StorageSettings = StorageSettings()
    spelling: SpellingSettings = SpellingSettings()
    nlu: NLUSettings = NLUSettings()
    dialogue: DialogueSettings = DialogueSettings()
    privacy: PrivacySettings = PrivacySettings()
    crm: CRMSettings = CRMSettings()
    web: WebSettings = WebSettings()
    telegram: TelegramSettings = TelegramSettings()
    twilio: TwilioSettings = TwilioSettings()
    slack: SlackSettings = SlackSettings()
    delivery: DeliverySettings = DeliverySettings()
    learning: LearningSettings = LearningSettings()
    llm: LLMSettings = LLMSettings()
    secrets: Secrets = Field(default_factory=Secrets, exclude=True)

    @property
    def llm_api_key(self) -> str | None:
        """The language model's key; ``None``: no model, the local pipeline answers alone."""
        return self.secrets.openai_api_key

    @property
    def database_url(self) -> str:
        if self.storage.url:
            return self.storage.url
        return f"sqlite+aiosqlite:///{self.data_dir / 'shopbot.sqlite3'}"

    @property
    def demo_database_path(self) -> Path:
        return self.crm.demo_database or self.data_dir / "demo_shop.sqlite3"

    def config_path(self, relative: Path) -> Path:
        """A file named in the settings, relative to ``config/`` unless absolute."""
        return relative if relative.is_absolute() else CONFIG_DIR / relative


def _env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for name, info in Settings.model_fields.items():
        if name == "secrets":
            continue
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, _Section):
            for key in annotation.model_fields:
                var = f"{ENV_PREFIX}{name}_{key}".upper()
                if var in env:
                    overrides.setdefault(name, {})[key] = env[var]
        elif (var := f"{ENV_PREFIX}{name}".upper()) in env:
            overrides[name] = env[var]
    return overrides


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), f"not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(str(path), "must be a mapping of settings")
    if "secrets" in data:
        raise ConfigError("secrets", "secrets are read only from the environment, not from a file")
    return data


def _secret_env_var(name: str, data: Mapping[str, Any]) -> str:
    """The variable secret ``name`` comes from; the model's key is under a configurable name."""
    if name != "openai_api_key":
        return Secrets.env_var(name)
    llm = data.get("llm")
    configured = llm.get("api_key_env") if isinstance(llm, Mapping) else None
    return configured if isinstance(configured, str) and configured else Secrets.env_var(name)


def load_settings(
    config_file: Path | None = None,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build the settings from the defaults file, an optional shop file, the environment and
    explicit overrides (command-line flags), in that order of precedence (last wins).
    """
    env = os.environ if env is None else env
    data = _read_yaml(DEFAULT_CONFIG_FILE)
    if config_file is not None:
        data = _merge(data, _read_yaml(config_file))
    data = _merge(data, _env_overrides(env))
    data = _merge(data, {k: v for k, v in overrides.items() if v is not None})
    data["secrets"] = {
        name: env.get(_secret_env_var(name, data)) or None for name in Secrets.model_fields
    }
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        raise ConfigError(key, first["msg"]) from exc

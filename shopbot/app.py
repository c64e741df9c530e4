"""The composition root: the only module that imports every package and wires it from Settings."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from aiohttp import web

from channels.api import create_api_app
from channels.platform import PlatformChannel
from channels.web import WebOptions, add_web_routes, create_web_chat, load_web_secret
from config.settings import Settings
from core.articles import ArticleIndex
from core.dispatch import Dispatcher
from core.engine import Engine, EngineOptions, Phrasing
from core.errors import ConfigError
from core.extraction import LocalExtractor
from core.intents import LocalIntentClassifier, TrainingData, load_or_train, load_training_data
from core.learning.registry import (
    PROMOTED,
    ModelArtifactError,
    ModelRegistry,
    ModelRegistryError,
    ModelReloader,
    ModelVersion,
)
from core.llm import CircuitBreaker, LLMClient, LLMEndpoint, RetryPolicy
from core.llm.phrasing import ModelPhraser, should_phrase
from core.llm.understanding import CascadeUnderstander
from core.metrics import Metrics
from core.ports import MessageUnderstander, SpellCorrector
from core.responses import Responses, load_responses
from core.skills import Skills
from core.spelling import SpellingCorrector
from core.storage import SQLConversationStore
from core.types import utcnow
from core.understanding import NoCorrection, Understander
from core.verification import Verifier, VerifierPolicy
from core.vocabulary import domain_vocabulary
from crm_adapters.demo import DemoShop
from shopbot.platforms import platform_channels

__all__ = ["SHIPPED_MODEL", "Runtime", "build_runtime", "platform_channels", "training_data"]

log = logging.getLogger(__name__)

SHIPPED_MODEL = "shipped"
"""``Runtime.model_version`` when no stored version is active: the model of the training file."""


class Runtime:
    """Owns the long-lived objects of one shopbot process: store, shop, model, engine, metrics.

    Build it with :func:`build_runtime`, then ``await start()`` before use and ``await stop()``
    at the end. ``engine`` exists only between the two.
    """

    def __init__(self, settings: Settings, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.settings = settings
        self.clock = clock
        self.metrics = Metrics()
        self.store = SQLConversationStore(settings.database_url, echo=settings.storage.echo)
        self.shop = DemoShop(settings.demo_database_path)
        self.training_data: TrainingData = training_data(settings)
        self.responses: Responses = _responses(settings, self.training_data)
        self.llm: LLMClient | None = _llm_client(settings, self.metrics)
        """The language model, when its key is set; ``None``: the local pipeline alone."""
        self.channels: list[PlatformChannel] = platform_channels(settings)
        """The messaging platforms whose credentials are set (Telegram, Twilio, Slack)."""
        self.dispatcher: Dispatcher | None = None
        self._engine: Engine | None = None
        self.model_version = SHIPPED_MODEL
        """The intent model being served: a stored version (``v3``) or ``shipped``."""
        self._model_number: int | None = None
        self._local: Understander | None = None
        self._model_reloads: asyncio.Task[None] | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise RuntimeError("Runtime.start() has not been awaited")
        return self._engine

    async def start(self, *, platforms: bool = True) -> None:
        """Open the databases (seeding the demo shop on first run) and load or train the model;
        then, unless ``platforms`` is false (a terminal chat), start the messaging platforms."""
        await self.store.start()
        try:
            await self.shop.start()
            if self.llm is not None:
                await self.llm.start()
            classifier = await self._serving_model()
            self._engine = await self._build_engine(classifier)
            if platforms and self.channels:
                await self._start_channels(self._engine)
            if platforms:  # a server: follow the active model version
                self._follow_active_model()
        except BaseException:  # e.g. a platform refused its token: leave nothing running
            await self.stop()
            raise

    async def _start_channels(self, engine: Engine) -> None:
        """Answer the platforms' messages through the inbox and send replies from the outbox."""
        delivery = self.settings.delivery
        self.dispatcher = Dispatcher(
            engine,
            self.store,
            {channel.name: channel.sender for channel in self.channels},
            metrics=self.metrics,
            max_attempts=delivery.max_attempts,
            base_delay=delivery.base_delay_seconds,
            max_delay=delivery.max_delay_seconds,
            send_timeout=delivery.send_timeout_seconds,
            concurrency=delivery.concurrency,
            poll_interval=delivery.poll_interval_seconds,
            apology=self.responses.render("error"),
        )
        await self.dispatcher.start()
        for channel in self.channels:
            await channel.start(self.dispatcher)

    async def stop(self) -> None:
        """Stop the platforms, the dispatcher and the databases; safe after a failed start."""
        await self._stop_following_model()
        if self.dispatcher is not None:
            for channel in self.channels:
                await channel.stop()
            await self.dispatcher.stop()
            self.dispatcher = None
        self._engine = None
        if self.llm is not None:
            await self.llm.stop()
        await self.shop.stop()
        await self.store.stop()

    def api_app(self) -> web.Application:
        """The JSON HTTP API on this (started) runtime's engine, limits and token, plus the
        website chat when ``web.enabled``."""
        settings = self.settings
        app = create_api_app(
            self.engine,
            metrics=self.metrics,
            api_token=settings.secrets.api_token,
            max_text_chars=settings.server.max_text_chars,
            max_body_bytes=settings.server.max_body_bytes,
            about=lambda: {"model": self.model_version},
        )
        if settings.web.enabled:
            self._add_web_chat(app)
        for channel in self.channels:
            channel.add_routes(app)
        return app

    def _add_web_chat(self, app: web.Application) -> None:
        """The website chat (storefront, widget, WebSocket) on the same app."""
        settings = self.settings
        identity_secret = settings.secrets.web_identity_secret
        chat = create_web_chat(
            self.engine,
            self.store,
            secret=load_web_secret(settings.secrets.web_secret, settings.data_dir),
            identity_secret=identity_secret.encode("utf-8") if identity_secret else None,
            token_max_age=timedelta(days=settings.web.token_max_age_days),
            messages_per_minute=settings.web.messages_per_minute,
            ip_messages_per_minute=settings.web.ip_messages_per_minute,
            options=WebOptions(
                allowed_origins=settings.web.allowed_origins,
                max_text_chars=settings.server.max_text_chars,
                max_body_bytes=settings.server.max_body_bytes,
                max_sockets_per_ip=settings.web.sockets_per_ip,
                trust_proxy_headers=settings.web.trust_proxy_headers,
            ),
            clock=self.clock,
        )
        add_web_routes(app, chat, self.shop.list_products)

    async def reset_demo_shop(self) -> None:
        """Re-create and re-seed the demo shop (dates relative to now)."""
        await self.shop.reset()

    # -- the intent model: the active stored version, followed while serving (hot reload) --------

    @property
    def models(self) -> ModelRegistry:
        """The intent model versions stored in the conversation database."""
        return ModelRegistry(self.store, threshold=self.settings.nlu.threshold)

    async def _serving_model(self) -> LocalIntentClassifier:
        """The active stored version when there is one, else the shipped model (trained from
        the training file, or its cached copy). When the active version cannot be loaded, the
        newest earlier promoted one that can — what the servers already running still serve —
        and the reloader keeps trying the active one. A version trained for other intents than
        the training file has is passed over the same way; a damaged metrics row of another
        version does not stop the server (it is logged)."""
        candidates: list[ModelVersion] = []
        try:
            active = await self.models.active()
            if active is not None:
                candidates.append(active)
                candidates += await self._earlier_promoted(active)
        except ModelArtifactError as exc:  # a damaged metrics row: serve what can be read
            log.error("cannot read every stored intent model version: %s", exc)
        for version in candidates:
            try:
                classifier = await self.models.load(version)
            except (ModelArtifactError, ModelRegistryError) as exc:
                log.error("cannot load intent model %s: %s", version.name, exc)
                continue
            if not self._fits_training_file(classifier, version.name):
                continue
            self._served(version.number, version.name)
            return classifier
        self._served(None, SHIPPED_MODEL)
        return await asyncio.to_thread(
            load_or_train,
            self.training_data,
            self.settings.data_dir / "models",
            threshold=self.settings.nlu.threshold,
        )

    async def _earlier_promoted(self, active: ModelVersion) -> list[ModelVersion]:
        versions = await self.models.versions()
        earlier = [v for v in versions if v.number < active.number and v.status == PROMOTED]
        return sorted(earlier, key=lambda v: v.number, reverse=True)

    def _follow_active_model(self) -> None:
        """Check for a newly promoted version every ``learning.reload_interval_seconds``."""
        reloader = ModelReloader(
            self.models,
            self._swap_model,
            interval=self.settings.learning.reload_interval_seconds,
            loaded=self._model_number,
        )
        self._model_reloads = asyncio.create_task(reloader.run(), name="shopbot-model-reload")

    def _fits_training_file(self, classifier: LocalIntentClassifier, name: str) -> bool:
        """Whether a stored version knows exactly the training file's intents. One trained
        before intents were added to or removed from the file would never recognise the new
        ones and would still answer with the removed ones: it is not served (logged)."""
        known, wanted = set(classifier.intents), set(self.training_data.intents)
        if known == wanted:
            return True
        log.warning(
            "intent model %s was trained for other intents than %s has (not in the model: %s; "
            "no longer in the file: %s): not served; run `shopbot learn train` to train one",
            name,
            self.settings.nlu.training_data,
            ", ".join(sorted(wanted - known)) or "none",
            ", ".join(sorted(known - wanted)) or "none",
        )
        return False

    def _swap_model(self, classifier: LocalIntentClassifier, version: ModelVersion) -> None:
        """Serve ``classifier`` from the next message on (a turn in progress keeps its verdict)."""
        if not self._fits_training_file(classifier, version.name):
            return
        if self._local is not None:
            self._local.classifier = classifier
            self._served(version.number, version.name)

    def _served(self, number: int | None, name: str) -> None:
        self._model_number, self.model_version = number, name
        self.metrics.set_model_version(name)

    async def _stop_following_model(self) -> None:
        task, self._model_reloads = self._model_reloads, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _build_engine(self, classifier: LocalIntentClassifier) -> Engine:
        settings = self.settings
        products = await self.shop.list_products()
        articles = await self.shop.list_articles()
        spelling: SpellCorrector = NoCorrection()
        if settings.spelling.enabled:
            spelling = SpellingCorrector(
                domain_vocabulary(products, articles, self.training_data.intents),
                max_word_length=settings.spelling.max_word_length,
                distance2_max_length=settings.spelling.distance2_max_length,
                cache_size=settings.spelling.cache_size,
            )
        local = Understander(
            spelling=spelling, classifier=classifier, extractor=LocalExtractor(products)
        )
        self._local = local  # its classifier is swapped when another model version is promoted
        understander: MessageUnderstander = local
        if self.llm is not None:
            understander = CascadeUnderstander(
                local,
                self.llm,
                intents={
                    name: self.training_data.descriptions.get(name, name)
                    for name in classifier.intents
                },
                products=products,
                threshold=settings.llm.cascade_threshold,
                deadline_seconds=settings.llm.call_deadline_seconds,
            )
        verifier = Verifier(
            self.shop,
            self.store,
            VerifierPolicy(
                max_failures=settings.dialogue.verification_max_failures,
                lockout=timedelta(minutes=settings.dialogue.verification_lockout_minutes),
                verified_for=timedelta(minutes=settings.dialogue.verification_ttl_minutes),
            ),
        )
        skills = Skills(
            shop=self.shop,
            verifier=verifier,
            # What a product is ("headphones", "lamp") names a thing, not a problem.
            articles=ArticleIndex(articles, subjects=[p.name.split()[-1] for p in products]),
            responses=self.responses,
        )
        options = EngineOptions(
            max_clarifications=settings.dialogue.max_clarifications,
            max_text_chars=settings.server.max_text_chars,
            redact_personal_data=settings.privacy.redact_personal_data,
        )
        return Engine(
            understander=understander,
            skills=skills,
            store=self.store,
            options=options,
            observer=self.metrics,
            clock=self.clock,
            phrasing=self._phrasing(),
        )

    def _phrasing(self) -> Phrasing | None:
        """Model phrasing of answers, when there is a model and it is not switched off."""
        mode = self.settings.llm.phrasing
        if self.llm is None or mode == "off":
            return None
        phraser = ModelPhraser(
            self.llm,
            deadline_seconds=self.settings.llm.call_deadline_seconds,
            fallbacks=self.metrics,
        )
        return Phrasing(phraser=phraser, wants=functools.partial(should_phrase, mode=mode))


def training_data(settings: Settings) -> TrainingData:
    """The shop's intent examples (``nlu.training_data``); ConfigError when unreadable."""
    try:
        return load_training_data(settings.config_path(settings.nlu.training_data))
    except ValueError as exc:
        raise ConfigError("nlu.training_data", str(exc)) from exc


def _responses(settings: Settings, data: TrainingData) -> Responses:
    try:
        return load_responses(
            settings.config_path(settings.responses), intents=frozenset(data.intents)
        )
    except (OSError, ValueError) as exc:
        raise ConfigError("responses", str(exc)) from exc


def _llm_client(settings: Settings, metrics: Metrics) -> LLMClient | None:
    """The language-model client when its key is set (not started), else ``None``."""
    key, llm = settings.llm_api_key, settings.llm
    if not key:
        return None
    endpoint = LLMEndpoint(
        api_key=key,
        model=llm.model,
        provider=llm.provider,
        base_url=llm.base_url,
        azure_endpoint=llm.azure_endpoint,
        azure_api_version=llm.azure_api_version,
    )
    return LLMClient(
        endpoint,
        timeout_seconds=llm.timeout_seconds,
        max_tokens=llm.max_tokens,
        retry=RetryPolicy(max_retries=llm.max_retries),
        breaker=CircuitBreaker(llm.breaker_failures, llm.breaker_cooldown_seconds),
        observer=metrics,
    )


def build_runtime(settings: Settings, *, clock: Callable[[], datetime] = utcnow) -> Runtime:
    """A runtime wired from ``settings``; raises ConfigError for a bad training or template file.

    ``clock`` is the time the conversation rules see (verification lockouts and expiry).
    """
    return Runtime(settings, clock=clock)

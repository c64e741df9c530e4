"""Model versions in the database: store, list, load, promote, roll back, and follow the active one.

Every trained model is stored as a version row holding its serialized artifact (the pickle that
``LocalIntentClassifier.save`` writes), the artifact's sha256, its metrics on the evaluation set,
the training-set fingerprint and counts, and a status: ``promoted`` (it passed the promotion
rule) or ``rejected`` (with the reason). One pointer row names the active version. Every server
on a shared database therefore loads the very same bytes.

Why pickle is acceptable here: unpickling runs code from the bytes, so it is only safe for bytes
this application wrote. The artifacts are written only by ``shopbot learn train`` into the
shop's own conversation database, which whoever can write it could use to do far worse; they are
never read from users, files or the network. The sha256 stored beside each artifact is checked
before unpickling, so a truncated, mixed-up or tampered blob refuses to load with a clear error
instead of being executed or half-read (it guards integrity, not against someone able to rewrite
both columns). scikit-learn's own recommendation for fitted models is pickle/joblib for the same
reason; the header also pins the scikit-learn version, and a mismatch refuses to load.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from core.errors import ShopbotError, StorageError
from core.learning.evaluation import EvaluationReport
from core.types import utcnow

if TYPE_CHECKING:  # scikit-learn loads only when a model is (de)serialized
    from core.intents import LocalIntentClassifier

__all__ = [
    "PROMOTED",
    "REJECTED",
    "SUPERSEDED",
    "ModelArtifactError",
    "ModelRegistry",
    "ModelRegistryError",
    "ModelReloader",
    "ModelStore",
    "ModelVersion",
    "deserialize_model",
    "parse_version",
    "serialize_model",
]

log = logging.getLogger(__name__)

PROMOTED = "promoted"
"""Status of a version that passed the promotion rule (whether or not it is active now)."""
REJECTED = "rejected"
"""Status of a version the promotion rule refused; ``reason`` says which intent dropped."""
SUPERSEDED = "became active while this version was trained; train again"
"""How the reason of a rejected version ends when it was refused only because another version
became active while it was trained (``v5 became active ...``): it was never compared with it."""


class ModelRegistryError(ShopbotError):
    """A registry request that cannot be done: an unknown version, a refused promotion."""


class ModelArtifactError(ModelRegistryError):
    """A stored model that must not be loaded: its bytes do not match their sha256, they were
    written by another model format or scikit-learn version, or its stored metrics are damaged.
    The message names the version."""


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """One stored model version (without its artifact bytes).

    ``number`` is assigned by the store (``name`` is ``v<number>``); ``training_examples`` counts
    every example trained on, ``accepted_examples`` those of them that came from the learning
    loop; ``report`` is the evaluation on the set used when the version was trained.
    """

    number: int
    status: str
    reason: str
    created_at: datetime
    fingerprint: str
    training_examples: int
    accepted_examples: int
    report: EvaluationReport
    sha256: str
    size: int

    @property
    def name(self) -> str:
        """How people call the version: ``v3``."""
        return f"v{self.number}"

    @property
    def superseded(self) -> bool:
        """Whether it was rejected only because another version became active meanwhile."""
        return self.status == REJECTED and self.reason.endswith(SUPERSEDED)


class ModelStore(Protocol):
    """The storage the registry needs (``SQLConversationStore`` provides it)."""

    async def add_model_version(
        self, version: ModelVersion, artifact: bytes, *, activate: bool, compared_with: int | None
    ) -> ModelVersion: ...

    async def add_first_model_version(
        self, version: ModelVersion, artifact: bytes
    ) -> ModelVersion | None: ...

    async def model_versions(self) -> list[ModelVersion]: ...

    async def model_version(self, number: int) -> ModelVersion | None: ...

    async def model_artifact(self, number: int) -> bytes | None: ...

    async def active_model_number(self) -> int | None: ...

    async def activate_model_version(self, number: int, *, at: datetime) -> None: ...


_VERSION = re.compile(r"[vV]?(\d+)")


def parse_version(text: str) -> int:
    """``v3`` or ``3`` -> 3; :class:`ModelRegistryError` otherwise."""
    match = _VERSION.fullmatch(text.strip())
    if match is None or int(match.group(1)) < 1:
        raise ModelRegistryError(f"{text!r} is not a model version (expected e.g. v3)")
    return int(match.group(1))


def serialize_model(classifier: LocalIntentClassifier) -> tuple[bytes, str]:
    """The model's bytes (the format ``LocalIntentClassifier.save`` writes) and their sha256."""
    with tempfile.TemporaryDirectory(prefix="shopbot-model-") as directory:
        path = Path(directory) / "model.pkl"
        classifier.save(path)
        artifact = path.read_bytes()
    return artifact, hashlib.sha256(artifact).hexdigest()


def deserialize_model(
    artifact: bytes, sha256: str, *, threshold: float | None = None, name: str = "model"
) -> LocalIntentClassifier:
    """The model in ``artifact``, after checking its sha256; :class:`ModelArtifactError` when the
    bytes were altered or come from another model format or scikit-learn version. Slow-ish
    (unpickling): call it in a thread from async code."""
    from core.intents import LocalIntentClassifier

    actual = hashlib.sha256(artifact).hexdigest()
    if actual != sha256:
        raise ModelArtifactError(
            f"model {name}: the stored artifact does not match its sha256 (expected "
            f"{sha256[:12]}..., got {actual[:12]}...); it was altered or damaged, refusing to load"
        )
    with tempfile.TemporaryDirectory(prefix="shopbot-model-") as directory:
        path = Path(directory) / "model.pkl"
        path.write_bytes(artifact)
        try:
            return LocalIntentClassifier.load(path, threshold=threshold)
        except ValueError as exc:
            detail = str(exc).replace(str(path), f"model {name}")
            raise ModelArtifactError(detail) from exc


class ModelRegistry:
    """The model versions of one database, and which of them is active.

    ``threshold`` is the ``nlu.threshold`` setting applied to every loaded model (``None``: each
    model's calibrated threshold).
    """

    def __init__(
        self,
        store: ModelStore,
        *,
        threshold: float | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._threshold = threshold
        self._clock = clock

    async def versions(self) -> list[ModelVersion]:
        """Every stored version, oldest first."""
        return await self._store.model_versions()

    async def active_number(self) -> int | None:
        """The active version's number (one small read), ``None`` when none was stored yet."""
        return await self._store.active_model_number()

    async def version(self, number: int) -> ModelVersion | None:
        """The version numbered ``number``, or ``None``."""
        return await self._store.model_version(number)

    async def active(self) -> ModelVersion | None:
        """The active version, or ``None`` when none was stored yet (the shipped model serves)."""
        number = await self.active_number()
        return None if number is None else await self.version(number)

    async def get(self, name: str) -> ModelVersion:
        """The version called ``name`` (``v3`` or ``3``); :class:`ModelRegistryError` if none."""
        number = parse_version(name)
        version = await self._store.model_version(number)
        if version is None:
            raise ModelRegistryError(f"there is no model version v{number} (see `model list`)")
        return version

    async def load(self, version: ModelVersion) -> LocalIntentClassifier:
        """The classifier of ``version``, its artifact verified against the stored sha256."""
        artifact = await self._store.model_artifact(version.number)
        if artifact is None:
            raise ModelRegistryError(f"model {version.name} has no stored artifact")
        return await asyncio.to_thread(
            deserialize_model,
            artifact,
            version.sha256,
            threshold=self._threshold,
            name=version.name,
        )

    async def add(
        self,
        classifier: LocalIntentClassifier,
        version: ModelVersion,
        *,
        activate: bool,
        compared_with: int | None = None,
    ) -> ModelVersion:
        """Store ``classifier`` with the metadata of ``version`` (its number, sha256 and size are
        assigned here); the stored version. With ``activate``, it becomes the active version if
        the active one is still version ``compared_with`` (``None``: none was active), checked
        in the same transaction; otherwise it is stored not active and rejected, its reason
        naming the version that became active meanwhile (train again)."""
        artifact, draft = await self._draft(classifier, version)
        return await self._store.add_model_version(
            draft, artifact, activate=activate, compared_with=compared_with
        )

    async def add_first(
        self, classifier: LocalIntentClassifier, version: ModelVersion
    ) -> ModelVersion | None:
        """Store ``classifier`` as the active version if no version is active yet, in one
        transaction; ``None`` (nothing stored) when another run stored one meanwhile."""
        artifact, draft = await self._draft(classifier, version)
        return await self._store.add_first_model_version(draft, artifact)

    async def _draft(
        self, classifier: LocalIntentClassifier, version: ModelVersion
    ) -> tuple[bytes, ModelVersion]:
        artifact, sha256 = await asyncio.to_thread(serialize_model, classifier)
        draft = replace(
            version, number=0, sha256=sha256, size=len(artifact), created_at=self._clock()
        )
        return artifact, draft

    async def promote(self, name: str, *, force: bool = False) -> ModelVersion:
        """Make version ``name`` the active one. A rejected version only with ``force``; a
        version whose artifact does not load (:class:`ModelArtifactError`) never."""
        version = await self.get(name)
        if version.status == REJECTED and not force:
            raise ModelRegistryError(
                f"{version.name} was rejected ({version.reason}); promote it with --force "
                "if you are sure"
            )
        await self._activate(version)
        return version

    async def rollback(self, name: str) -> ModelVersion:
        """Make an earlier, non-rejected version (older than the active one) active again;
        like :meth:`promote`, only when its artifact loads."""
        version = await self.get(name)
        active = await self._store.active_model_number()
        if active is not None and version.number >= active:
            raise ModelRegistryError(
                f"{version.name} is not older than the active v{active}; "
                "use `model promote` to move forward"
            )
        if version.status == REJECTED:
            raise ModelRegistryError(
                f"{version.name} was rejected ({version.reason}); roll back to a promoted version"
            )
        await self._activate(version)
        return version

    async def _activate(self, version: ModelVersion) -> None:
        """Make ``version`` active once its artifact is known to load: activating a damaged one
        would leave every server on its old model, logging at each check, while ``model list``
        named the damaged one as served."""
        await self.load(version)
        await self._store.activate_model_version(version.number, at=self._clock())


class ModelReloader:
    """Follows the active version in a running server: every ``interval`` seconds it reads the
    active version's number and, when it differs from the loaded one, loads that version and
    hands it to ``swap`` (which replaces the classifier in place). A failed check, whatever the
    failure, is logged and retried at the next interval; the server keeps serving the model it
    has."""

    def __init__(
        self,
        registry: ModelRegistry,
        swap: Callable[[LocalIntentClassifier, ModelVersion], None],
        *,
        interval: float,
        loaded: int | None,
    ) -> None:
        self._registry = registry
        self._swap = swap
        self._interval = interval
        self.loaded = loaded
        """The number of the version being served; ``None``: the shipped model."""

    async def check(self) -> bool:
        """Load and swap in the active version if it changed; whether it did."""
        number = await self._registry.active_number()
        if number is None or number == self.loaded:
            return False
        version = await self._registry.version(number)
        if version is None:
            return False
        classifier = await self._registry.load(version)
        self._swap(classifier, version)
        self.loaded = number
        log.info("now serving intent model %s", version.name)
        return True

    async def run(self) -> None:
        """Check forever, ``interval`` seconds apart (cancel the task to stop). The same
        failure is logged once, not every interval, until a check succeeds again."""
        last_failure: str | None = None
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.check()
            except Exception as exc:  # a server must never stop following promotions
                failure = f"{type(exc).__name__}: {exc}"
                if failure != last_failure:
                    _log_failure(exc)
                last_failure = failure
            else:
                last_failure = None


def _log_failure(exc: Exception) -> None:
    if isinstance(exc, StorageError | ModelRegistryError):
        log.warning("could not check for a new intent model: %s", exc)
    else:  # a bug: keep its traceback
        log.error("could not check for a new intent model", exc_info=exc)

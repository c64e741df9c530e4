"""The NLU stages in order: spelling, intent, attributes."""

from __future__ import annotations

from core.ports import AttributeExtractor, IntentClassifier, SpellCorrector
from core.types import SpellResult, Understanding

__all__ = ["NoCorrection", "Understander"]


class NoCorrection:
    """A spelling stage that changes nothing (spelling correction switched off)."""

    async def correct(self, text: str) -> SpellResult:
        return SpellResult(text)


class Understander:
    """Runs spelling correction, intent classification and attribute extraction on one text.

    The classifier sees the corrected text; the extractor sees both, so that order numbers and
    emails are always taken from what the user typed.
    """

    def __init__(
        self,
        *,
        spelling: SpellCorrector,
        classifier: IntentClassifier,
        extractor: AttributeExtractor,
    ) -> None:
        self.spelling = spelling
        self.classifier = classifier
        self.extractor = extractor

    async def understand(self, text: str) -> Understanding:
        spelled = await self.spelling.correct(text)
        classification = await self.classifier.classify(spelled.text)
        attributes = await self.extractor.extract(text, spelled.text, classification.intent)
        return Understanding(spelled, classification, attributes)

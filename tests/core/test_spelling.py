"""The spelling stage: typo fixes a shopper needs, and everything it must never touch."""

from __future__ import annotations

import pytest

from core.errors import ConfigError
from core.ports import SpellCorrector
from core.spelling import SpellingCorrector
from core.types import Correction, SpellResult

SHOP_WORDS = (
    "Aurora Wireless Headphones",
    "Nimbus Smart Watch",
    "Orbit Bluetooth Speaker",
    "Zephyr Laptop Stand",
    "Pulse Fitness Tracker",
    "Terra Hiking Backpack",
    "IPX7",
    "refund tracking smartwatch bluetooth unpair",
    "where is my order",
    "return policy",
    "reset my password",
    "shipping",
)


@pytest.fixture(scope="module")
def speller() -> SpellingCorrector:
    return SpellingCorrector(SHOP_WORDS)


def fixed(speller: SpellingCorrector, text: str) -> str:
    return speller.correct_text(text).text


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("where is my oder", "where is my order"),
        ("retrun policy", "return policy"),
        ("pasword reset", "password reset"),
        ("my heaphones stopped working", "my headphones stopped working"),
        ("how long does shiping take", "how long does shipping take"),
        ("whats the tracknig number", "whats the tracking number"),
        ("I want a refnd", "I want a refund"),
        ("the blutooth wont connect", "the bluetooth wont connect"),
    ],
)
def test_fixes_the_typos_that_matter_to_the_bot(
    speller: SpellingCorrector, typed: str, meant: str
) -> None:
    assert fixed(speller, typed) == meant


async def test_is_a_spell_corrector_stage(speller: SpellingCorrector) -> None:
    stage: SpellCorrector = speller
    result = await stage.correct("where is my oder")
    assert result == SpellResult("where is my order", (Correction("oder", "order", 12),))


def test_reports_each_correction_at_its_offset_in_the_original(
    speller: SpellingCorrector,
) -> None:
    text = "Hi!  My heaphones, and the retrun label?"
    result = speller.correct_text(text)
    assert result.text == "Hi!  My headphones, and the return label?"
    assert result.corrections == (
        Correction("heaphones", "headphones", 8),
        Correction("retrun", "return", 27),
    )
    for fix in result.corrections:
        assert text[fix.start : fix.start + len(fix.original)] == fix.original


@pytest.mark.parametrize(
    "text",
    [
        "order #1001 please",
        "order 1001 please",
        "is 12345 shipped",
        "tracking 1Z999AA10123456784 please",
        "does it have IPX7 and bluetooth 5.3",
        "my email is alcie@exampel.com",
        "call me on +1 555 000 1111 or (555) 000-1111",
        "see http://shpo.example/odrer and www.exmaple.com and exmaple.com",
        "ask @suport about it",
        "my MacBook and iPhone and PlayStaton",
        "shipped by UPS with GPS rated to 5 ATM",
        "my RMA for the OLED and SSD",
        "RMA number please. OLED or QLED?",
        "my pasword123 and heaphones2 and 2nite",
        "hashtag #shiping",
        "user_nmae is mine",
    ],
)
def test_never_changes_protected_tokens(speller: SpellingCorrector, text: str) -> None:
    assert speller.correct_text(text) == SpellResult(text)


def test_corrects_around_protected_tokens(speller: SpellingCorrector) -> None:
    text = "oder #1001 for alice@example.com, pasword resett"
    assert fixed(speller, text) == "order #1001 for alice@example.com, password reset"


def test_leaves_shop_words_alone_and_uses_them_as_targets(speller: SpellingCorrector) -> None:
    assert fixed(speller, "unpair the Nimbus smartwatch from Zephyr") == (
        "unpair the Nimbus smartwatch from Zephyr"
    )
    assert fixed(speller, "I bought the Aurorra headphones") == "I bought the Aurora headphones"
    assert fixed(speller, "is the Nimbos in stock") == "is the Nimbus in stock"


def test_shop_vocabulary_changes_what_a_typo_becomes() -> None:
    plain = SpellingCorrector()
    shop = SpellingCorrector(["shipping", "Nimbus", "unpair"])
    assert fixed(plain, "shiping nimbos unpiar") == "shining bimbos unfair"
    assert fixed(shop, "shiping nimbos unpiar") == "shipping nimbus unpair"


def test_a_capitalised_name_inside_a_sentence_is_not_guessed_at(
    speller: SpellingCorrector,
) -> None:
    text = "Hi, my name is Siobhan Ogunleye and I live in Mirfeld"
    assert fixed(speller, text) == text


def test_keeps_the_case_pattern_of_each_word(speller: SpellingCorrector) -> None:
    assert fixed(speller, "Retrun policy") == "Return policy"
    assert fixed(speller, "WHERE IS MY ODER") == "WHERE IS MY ORDER"
    assert fixed(speller, "Dont worry") == "Don't worry"
    # A capitalised word opening a line is a sentence start, not a name.
    assert fixed(speller, "hello\nWarrenty question") == "hello\nWarranty question"


def test_keeps_punctuation_and_spacing_exactly(speller: SpellingCorrector) -> None:
    text = "  wher\tis my  oder?!\n\n(retrun...)  \u2014 thanks \U0001f600 "
    assert (
        fixed(speller, text) == "  where\tis my  order?!\n\n(return...)  \u2014 thanks \U0001f600 "
    )


def test_contractions_and_possessives(speller: SpellingCorrector) -> None:
    assert fixed(speller, "I dont know, it isnt here") == "I don't know, it isn't here"
    assert fixed(speller, "I can't and won't, it's Bob's") == "I can't and won't, it's Bob's"
    assert fixed(speller, "the custmer's parcel") == "the customer's parcel"


def test_short_words_chat_words_and_overlong_words_are_left_alone(
    speller: SpellingCorrector,
) -> None:
    assert fixed(speller, "hi im ok thx pls") == "hi im ok thx pls"
    long_word = "supercalifragilisticexpialidociouss"
    assert fixed(speller, f"that is {long_word}") == f"that is {long_word}"


def test_a_rare_dictionary_word_is_only_taken_for_a_shop_word() -> None:
    plain = SpellingCorrector()
    assert fixed(plain, "where is my oder") == "where is my oder"
    assert fixed(SpellingCorrector(["order"]), "where is my oder") == "where is my order"


def test_common_words_are_never_changed(speller: SpellingCorrector) -> None:
    text = "the order was shipped yesterday but the box arrived broken"
    assert speller.correct_text(text) == SpellResult(text)


def test_empty_and_blank_text(speller: SpellingCorrector) -> None:
    assert speller.correct_text("") == SpellResult("")
    assert speller.correct_text(" \n\t ") == SpellResult(" \n\t ")


@pytest.mark.parametrize(
    "text",
    [
        "a" * 2000,
        "aaaa " * 400,
        "Qwrtz " * 330,
        " ".join(f"zq{chr(97 + i % 26)}x{chr(97 + i // 26 % 26)}wv" for i in range(280)),
        "\u0645\u0631\u062d\u0628\u0627 \u05e9\u05dc\u05d5\u05dd \U0001f600\U0001f44d\u200d ok",
        "or\u200bder he\u200baphones \u202eredro\u202c",
        "p\u0430ssword caf\u00e9 na\u0131ve pe\u0301dido",
    ],
)
def test_hostile_or_foreign_text_is_returned_unchanged(
    speller: SpellingCorrector, text: str
) -> None:
    assert speller.correct_text(text) == SpellResult(text)


def test_a_mostly_foreign_message_is_left_alone(speller: SpellingCorrector) -> None:
    text = "Donde esta mi pedido por favor"
    assert fixed(speller, text) == text


def test_a_long_message_with_many_typos_is_still_corrected(speller: SpellingCorrector) -> None:
    text = "where is my oder, " * 110
    result = speller.correct_text(text)
    assert result.text == "where is my order, " * 110
    assert len(result.corrections) == 110


def test_every_typo_of_a_long_message_is_corrected(speller: SpellingCorrector) -> None:
    text = (
        "where is my oder? I need the retrun label, a new pasword, the heaphones manual, "
        "the shiping cost, the tracknig code, a refnd and blutooth pairing help for the "
        "speeker, the warrenty and the backpak"
    )
    assert fixed(speller, text) == (
        "where is my order? I need the return label, a new password, the headphones manual, "
        "the shipping cost, the tracking code, a refund and bluetooth pairing help for the "
        "speaker, the warranty and the backpack"
    )


def test_cache_on_and_off_give_the_same_results() -> None:
    cached = SpellingCorrector(SHOP_WORDS)
    uncached = SpellingCorrector(SHOP_WORDS, cache_size=0)
    texts = [
        "where is my oder",
        "Retrun the heaphones",
        "Hi, I am Giovana and my pasword is gone",
        "zzzzqqqq xkcdfoob",
        # more distinct unknown words than one message may search
        " ".join(f"wrod{chr(97 + i)}x tpyo{i % 7}q sheertes" for i in range(40)),
    ]
    for _ in range(2):  # the second pass answers from the cache
        for text in texts:
            assert cached.correct_text(text) == uncached.correct_text(text)


def test_longer_words_only_get_the_cheap_search_when_asked() -> None:
    assert fixed(SpellingCorrector(distance2_max_length=8), "avaible") == "available"
    # "acomodation" is two edits from "accommodation"; at 11 letters it needs the wider setting.
    assert fixed(SpellingCorrector(distance2_max_length=8), "acomodation") == "acomodation"
    assert fixed(SpellingCorrector(distance2_max_length=12), "acomodation") == "accommodation"


@pytest.mark.parametrize(
    ("option", "value"),
    [("max_word_length", 2), ("distance2_max_length", 0), ("cache_size", -1)],
)
def test_bad_settings_fail_naming_the_key(option: str, value: int) -> None:
    options = {"max_word_length": 18, "distance2_max_length": 8, "cache_size": 100, option: value}
    with pytest.raises(ConfigError, match=f"spelling.{option}"):
        SpellingCorrector(
            max_word_length=options["max_word_length"],
            distance2_max_length=options["distance2_max_length"],
            cache_size=options["cache_size"],
        )


@pytest.mark.parametrize(
    "text",
    [
        "two refunds please",  # a rare dictionary word whose singular is a shop word
        "both iphones are dead",  # the plural of a known chat word
        "my airpods and earbuds",  # names made of two common words: no wild guess
        "the lamp flickers",
        "qwe",  # a keyboard mash is not "we" with a stray letter
    ],
)
def test_plurals_names_and_mashes_are_not_turned_into_other_words(
    speller: SpellingCorrector, text: str
) -> None:
    assert speller.correct_text(text) == SpellResult(text)


def test_short_and_run_together_typos_are_still_fixed(speller: SpellingCorrector) -> None:
    assert fixed(speller, "hte order and teh refnds") == "the order and the refunds"
    assert fixed(speller, "that was usefull, thx") == "that was useful, thx"
    assert fixed(speller, "two heaphones") == "two headphones"


@pytest.mark.parametrize(
    "text",
    [
        "¿Dónde está mi pedido #12345?",
        "Où est ma commande 1002 ?",
        "Wo ist meine Bestellung?",
    ],
)
def test_another_language_is_left_as_written(speller: SpellingCorrector, text: str) -> None:
    assert speller.correct_text(text) == SpellResult(text)

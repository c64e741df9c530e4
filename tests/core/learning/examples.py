"""Examples the learning-loop tests teach: German customers asking where their order is, which
the shipped (English) model does not know."""

from __future__ import annotations

GERMAN_ORDER_STATUS = [
    "wo ist meine bestellung",
    "wo bleibt mein paket",
    "wann kommt meine bestellung an",
    "wann wird mein paket geliefert",
    "ist meine bestellung schon unterwegs",
    "meine lieferung ist noch nicht da",
    "wo ist mein paket gerade",
    "wurde meine bestellung schon verschickt",
    "wann kommt mein paket",
    "status meiner bestellung bitte",
    "mein paket ist immer noch nicht angekommen",
    "wie lange dauert die lieferung noch",
]

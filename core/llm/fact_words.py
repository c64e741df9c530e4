"""The word tables the fact reader (:mod:`core.llm.facts`) recognises facts by, in English,
Spanish, French, German, Italian and Portuguese: months, weekdays, currencies, time units,
order and status words, negation and expectation, stock, carriers and promises.
"""

from __future__ import annotations

import unicodedata

__all__ = [
    "CARRIERS",
    "CURRENCIES",
    "EXPECTATION",
    "EXPECTATION_AFTER",
    "FUTURE_SPEC",
    "MONTHS",
    "NEGATORS",
    "NUMBER_WORDS",
    "ORDER_WORDS",
    "PROMISES",
    "RELATIVE_DAYS",
    "STATUSES",
    "STATUS_SPEC",
    "STOCK",
    "TIME_UNITS",
    "WEEKDAYS",
    "fold",
    "table",
]


def fold(text: str) -> str:
    """Lower case without accents, one character for one (so spans stay aligned)."""
    out = []
    for char in text.lower().replace("\u2019", "'"):
        base = "".join(
            c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
        )
        out.append(base if len(base) == 1 else char)
    return "".join(out)


def table(spec: str) -> dict[str, str]:
    """``"value: word word; value: word"`` → ``{word: value}`` (words folded; ``_`` is a space)."""
    table: dict[str, str] = {}
    for entry in spec.split(";"):
        value, _, names = entry.partition(":")
        for name in names.split():
            table[fold(name.replace("_", " "))] = value.strip()
    return table


MONTHS = {
    name: int(month)
    for name, month in table(
        "1: january jan enero janvier januar gennaio janeiro;"
        "2: february feb febrero février februar febbraio fevereiro;"
        "3: march mar marzo mars märz maerz marco;"
        "4: april apr abril avril aprile;"
        "5: may mayo mai maggio maio;"
        "6: june jun junio juin juni giugno junho;"
        "7: july jul julio juillet juli luglio julho;"
        "8: august aug agosto août;"
        "9: september sep sept septiembre setiembre septembre settembre setembro;"
        "10: october oct octubre octobre oktober ottobre outubro;"
        "11: november nov noviembre novembre novembro;"
        "12: december dec diciembre décembre dezember dicembre dezembro"
    ).items()
}
WEEKDAYS = table(
    "0: monday lunes lundi montag lunedì segunda-feira;"
    "1: tuesday martes mardi dienstag martedì terça-feira;"
    "2: wednesday miércoles mercredi mittwoch mercoledì quarta-feira;"
    "3: thursday jueves jeudi donnerstag giovedì quinta-feira;"
    "4: friday viernes vendredi freitag venerdì sexta-feira;"
    "5: saturday sábado samedi samstag sonnabend sabato;"
    "6: sunday domingo dimanche sonntag domenica"
)
CURRENCIES = table(
    "USD: $ us$ usd dollar dollars dólar dólares dollari;"
    "EUR: € eur euro euros;"
    "GBP: £ gbp pound pounds libra libras;"
    "CAD: cad c$; AUD: aud a$; CHF: chf; JPY: jpy ¥; SEK: sek; MXN: mxn"
)
TIME_UNITS = table(
    "second: sec secs second seconds segundo segundos seconde secondes sekunde sekunden secondo"
    " secondi;"
    "minute: min mins minute minutes minuto minutos minuten minuti;"
    "hour: h hr hrs hour hours hora horas heure heures stunde stunden ora ore;"
    "day: day days día días jour jours tag tage tagen werktage werktagen giorno giorni dia dias;"
    "week: week weeks semana semanas semaine semaines woche wochen settimana settimane;"
    "month: month months mes meses mois monat monate monaten mese mesi;"
    "year: year years yr yrs año años ano anos an ans année années jahr jahre jahren anno anni"
)
ORDER_WORDS = table("order: order pedido commande bestellung ordine encomenda")
# Days relative to today; German "morgen" is left out, being also the "Guten Morgen" greeting.
RELATIVE_DAYS = table(
    "today: today tonight hoy aujourd'hui heute oggi hoje;"
    "tomorrow: tomorrow mañana demain domani amanhã;"
    "yesterday: yesterday ayer hier gestern ieri ontem"
)
# Number words that are not also common words ("one", "once", "due", "sei", "neuf" are).
NUMBER_WORDS = {
    name: int(value)
    for name, value in table(
        "2: two dos deux zwei dois duas; 3: three tres trois drei tre três; 4: four cuatro quatre"
        " vier quattro quatro; 5: five cinco cinq fünf cinque; 6: six seis sechs; 7: seven siete"
        " sieben sette sete; 8: eight ocho huit acht otto oito; 9: nine nueve neun nove;"
        " 10: ten diez dix zehn dieci dez; 11: eleven onze; 12: twelve doce douze zwölf dodici"
        " doze; 20: twenty veinte vingt zwanzig venti vinte; 30: thirty treinta trente dreißig"
        " trenta trinta"
    ).items()
}
NEGATORS = frozenset(
    "not never no cannot nor without nicht kein keine keinen nie pas ne n jamais non não nunca"
    " mai sin sem".split()
)
# Words before a status that make it an expectation ("should arrive", "will be delivered").
EXPECTATION = frozenset(
    fold(w)
    for w in "will would should shall expected expect expects estimated scheduled due going may"
    " might could can must once when until after before to soon será serán debería deberían"
    " debe deben deberá espera esperamos esperan prevista previsto estimada cuando vez hasta"
    " antes después va van puede pueden podrá pronto sera seront devrait devraient doit prévu"
    " prévue estimée quand lorsque fois jusqu avant après vont peut peuvent pourra bientôt wird"
    " werden sollte sollten soll voraussichtlich erwartet wenn sobald bis vor nach kann können"
    " dürfte bald sarà saranno dovrebbe dovrebbero stimata volta fino prima dopo può possono"
    " potrà presto serão deveria devem até depois pode podem poderá vai vão breve".split()
)
EXPECTATION_AFTER = frozenset(
    fold(w)
    for w in "expected estimated soon prevista previsto prévue prévu voraussichtlich erwartet"
    " pronto bientôt bald presto".split()
)
# Order statuses: folded word -> (status, the mood the word itself carries, e.g. a future).
STATUS_SPEC = (
    "processing: processing processed being_prepared procesando procesado procesada en_proceso"
    " en_preparación preparando en_cours_de_traitement traitée en_préparation in_bearbeitung"
    " bearbeitet in_lavorazione em_processamento processado processada;"
    "pending: pending pendiente en_attente ausstehend in_attesa pendente; on_hold: on_hold;"
    "shipped: shipped ship ships dispatched on_its_way on_the_way in_transit enviado enviada"
    " enviados enviadas envió envío envíe envíen despachado despachada en_camino en_tránsito"
    " expédié expédiée expédiés expédiées expédier en_route en_chemin versandt verschickt"
    " versendet unterwegs spedito spedita spediti spedite in_viaggio in_transito a_caminho"
    " em_trânsito;"
    "out_for_delivery: out_for_delivery en_reparto en_cours_de_livraison in_zustellung in_consegna"
    " saiu_para_entrega;"
    "delivered: delivered entregado entregada entregados entregadas entregue entregues llegó"
    " livré livrée livrés livrées arrivée arrivées geliefert zugestellt angekommen eingetroffen"
    " consegnato consegnata consegnati arrivato arrivata chegou arrived;"
    "cancelled: cancelled canceled cancelado cancelada cancelados annulé annulée storniert"
    " annullato annullata cancellato cancellata;"
    "refunded: refunded reembolsado reembolsada remboursé remboursée erstattet rückerstattet"
    " zurückerstattet rimborsato rimborsata;"
    "returned: returned devuelto devuelta devueltos devueltas retourné retournée retournés"
    " zurückgeschickt zurückgesendet retourniert restituito restituita devolvido devolvida;"
    "delayed: delayed running_late retrasado retrasada con_retraso en_retard verspätet in_ritardo"
    " atrasado atrasada;"
    "lost: lost perdido perdida perdu perdue verloren smarrito extraviado extraviada"
)
# Words that speak of a delivery to come even without "will": "once it arrives", "llega".
FUTURE_SPEC = (
    "shipped: enviará enviarán expédiera spedirà;"
    "delivered: deliver delivers arrive arrives arriving arrival llegar llega llegan llegue"
    " lleguen llegará llegarán llegada entregará entregarán livrer livrera arriver arrivera"
    " arriva arrivare arriverà ankommen ankommt eintreffen eintrifft chegar chega chegue chegará"
)
STATUSES: dict[str, tuple[str, str]] = {
    **{word: (status, "") for word, status in table(STATUS_SPEC).items()},
    **{word: (status, "expected") for word, status in table(FUTURE_SPEC).items()},
}
STOCK = table(
    "in_stock: in_stock en_stock auf_lager vorrätig em_estoque in_magazzino;"
    "out_of_stock: out_of_stock sold_out agotado agotada sin_stock sin_existencias fuera_de_stock"
    " épuisé épuisée rupture_de_stock ausverkauft esaurito esaurita esgotado esgotada sem_estoque;"
    "restock: new_stock back_in_stock restock restocked nuevo_stock de_nuevo_en_stock"
    " nuevas_existencias reposición nouveau_stock neue_ware wieder_auf_lager wieder_verfügbar"
    " novo_estoque"
)
# Matched case-sensitively ("Correos" the carrier, not "correos" the e-mails).
CARRIERS = (
    *"UPS USPS DHL DPD GLS TNT FedEx SEUR MRW CTT Evri Hermes Yodel Purolator Aramex OnTrac"
    " LaserShip Parcelforce Colissimo Chronopost Correos Nacex PostNL PostNord Bpost Posti"
    " Sendle Canpar".split(),
    *"Royal Mail,Canada Post,Australia Post,La Poste,Poste Italiane,Deutsche Post,"
    "Amazon Logistics,Japan Post".split(","),
)

# Promises and policy terms: a draft may only make those the answer makes.
PROMISES = table(
    "free: free gratis gratuit gratuite gratuito gratuita kostenlos kostenfrei;"
    "credit: credit store_credit credito credit_d'achat guthaben;"
    "discount: discount descuento remise rabatt sconto desconto;"
    "voucher: voucher coupon cupon vale bon_d'achat gutschein buono;"
    "compensation: compensation compensacion indemnizacion dedommagement entschadigung"
    " indennizzo compensacao;"
    "refund: refund refunded reembolso remboursement erstattung ruckerstattung rimborso;"
    "guarantee: guarantee guaranteed warranty garantia garantie garanzia;"
    "replacement: replacement reemplazo remplacement ersatz sostituzione substituicao;"
    "gift: gift regalo cadeau geschenk presente"
)

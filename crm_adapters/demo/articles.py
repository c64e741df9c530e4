"""The demo shop's help articles: step-by-step troubleshooting for its products and accounts.

Each article is linked to the product it is about (``None`` for account topics), so a search can
prefer the article for the product the customer mentioned.
"""

from __future__ import annotations

from core.shop import HelpArticle
from crm_adapters.demo.catalog import AURORA_SKU, NIMBUS_SKU, ORBIT_SKU, PULSE_SKU

__all__ = ["APP_NAME", "DEMO_ARTICLES"]

APP_NAME = "Shopbot Demo app"
"""The (fictional) companion app the demo devices pair with."""

DEMO_ARTICLES: tuple[HelpArticle, ...] = (
    HelpArticle(
        id="aurora-bluetooth-pairing",
        title="Pair the Aurora Wireless Headphones over Bluetooth",
        summary="Put the headphones in pairing mode and pick them in your device's Bluetooth list.",
        steps=(
            "Charge the headphones for at least 15 minutes; they refuse to pair on a nearly "
            "empty battery.",
            "With the headphones switched off, hold the power button for 5 seconds until the "
            "light flashes blue and red: they are now in pairing mode.",
            "On your phone or computer, open the Bluetooth settings and make sure Bluetooth is on.",
            'Choose "Aurora Wireless Headphones" in the list of devices; you will hear '
            '"Connected" in the headphones.',
            'If they do not appear, remove any old "Aurora" entry from the list, switch '
            "Bluetooth off and on again, and repeat step 2.",
            "To add a second phone or laptop, put the headphones in pairing mode again; they "
            "remember up to 8 devices.",
        ),
        product_sku=AURORA_SKU,
        keywords=("pair", "pairing", "bluetooth", "connect", "headphones", "phone", "laptop"),
    ),
    HelpArticle(
        id="aurora-noise-cancelling-audio",
        title="Aurora headphones: noise cancelling weak or sound cutting out",
        summary="Check the listening mode and the fit, reduce radio interference, update, reset.",
        steps=(
            "Press the ANC button to cycle through Noise cancelling, Ambient and Off; a voice "
            "prompt names each mode.",
            "Make sure the ear cushions sit all around your ears: a gap lets noise in and weakens "
            "noise cancelling.",
            "Keep the phone within 10 metres with no walls in between; Wi-Fi routers and "
            "microwaves can cause short dropouts.",
            "Disconnect Bluetooth devices you are not using, because the phone shares its radio "
            "between all of them.",
            f"Install the latest headphone firmware from the {APP_NAME} (Device > Firmware "
            "update).",
            "If it still happens, hold the power and ANC buttons together for 10 seconds to "
            "reset the headphones, then pair them again.",
        ),
        product_sku=AURORA_SKU,
        keywords=(
            "noise cancelling",
            "anc",
            "sound",
            "audio",
            "cutting out",
            "dropouts",
            "crackling",
        ),
    ),
    HelpArticle(
        id="nimbus-not-charging",
        title="Nimbus Smart Watch is not charging",
        summary="Clean the contacts, seat the watch on the cradle, use a proper power source.",
        steps=(
            "Wipe the metal contacts on the back of the watch and on the magnetic cradle with a "
            "dry, lint-free cloth; sweat and dust keep them from touching.",
            "Place the watch on the cradle so the contacts line up; it clicks into place and "
            "shows a charging icon within a minute.",
            "Plug the cable into a wall adapter or a USB port giving at least 5 V / 1 A; some "
            "laptop ports switch off when the laptop sleeps.",
            "If the battery was completely flat, leave the watch on the charger for 30 minutes "
            "before expecting the screen to light up.",
            "Still dark? Keep it on the cradle and hold the side button for 15 seconds to "
            "restart it.",
            "If it does not charge after all of this, contact us: a faulty watch under warranty "
            "is replaced free of charge.",
        ),
        product_sku=NIMBUS_SKU,
        keywords=("charge", "charging", "battery", "cradle", "charger", "won't turn on", "dead"),
    ),
    HelpArticle(
        id="nimbus-gps-heart-rate",
        title="Nimbus Smart Watch: GPS does not lock or heart-rate readings look wrong",
        summary="Give GPS a clear sky and fresh satellite data; wear the watch snugly and clean "
        "the sensor.",
        steps=(
            "Start outdoor workouts in the open, away from tall buildings, and wait until the GPS "
            "icon turns solid green; the first lock can take 2 minutes.",
            f"Sync the watch with the {APP_NAME} before a long run: it downloads satellite data "
            "that makes the next lock much faster.",
            "For heart rate, wear the watch a finger's width above the wrist bone, snug but "
            "comfortable, and tighten the strap a notch during workouts.",
            "Clean the sensor on the back with a damp cloth; sun cream and sweat blur the "
            "readings.",
            f"Check for a watch firmware update in the {APP_NAME} (Device > Firmware update).",
        ),
        product_sku=NIMBUS_SKU,
        keywords=("gps", "satellite", "location", "heart rate", "readings", "inaccurate", "sensor"),
    ),
    HelpArticle(
        id="orbit-factory-reset",
        title="Reset the Orbit Bluetooth Speaker to factory settings",
        summary="Hold power and volume down for 8 seconds, then pair the speaker again.",
        steps=(
            "Switch the speaker on and leave it connected to its charger during the reset.",
            "Hold the power button and the volume-down button together for 8 seconds.",
            "Let go when the light ring flashes white three times and a tone plays; the speaker "
            "switches itself off.",
            "Switch it on again: it starts in pairing mode (blinking blue) and has forgotten "
            "every paired device.",
            'On your phone, remove the old "Orbit Bluetooth Speaker" entry from the Bluetooth '
            "settings, then pair the speaker again.",
        ),
        product_sku=ORBIT_SKU,
        keywords=("reset", "factory reset", "restore", "frozen", "unresponsive", "speaker"),
    ),
    HelpArticle(
        id="orbit-water-exposure",
        title="Orbit speaker got wet or sounds muffled after water",
        summary="Dry the charging port before charging and push water out of the speaker.",
        steps=(
            "The speaker is rated IPX7 (1 metre of water for 30 minutes) only with the rubber "
            "flap over the USB-C port fully closed.",
            "Switch it off and do not charge it for at least 2 hours, until the port is "
            "completely dry; charging a wet port can damage it.",
            "Hold it with the grille facing down and shake out the water, then play music at "
            "low volume for a few minutes to push the rest out.",
            "Dry the outside with a soft cloth; do not use a hair dryer or a radiator.",
            "After sea or pool water, rinse briefly under fresh tap water with the flap closed, "
            "then dry it as above.",
        ),
        product_sku=ORBIT_SKU,
        keywords=("water", "wet", "rain", "pool", "muffled", "waterproof", "ipx7", "port"),
    ),
    HelpArticle(
        id="pulse-app-sync",
        title="Sync the Pulse Fitness Tracker with the app",
        summary="Keep the tracker close, check the app's permissions, restart, re-add the tracker.",
        steps=(
            f"Open the {APP_NAME} with Bluetooth on and the tracker within 1 metre, then pull "
            "down on the Today screen to start a sync.",
            "In your phone settings, allow the app to use Bluetooth (on Android also Nearby "
            "devices) and to refresh in the background.",
            "Close the app completely, switch Bluetooth off and on, and open the app again.",
            "Restart the tracker by holding its button for 10 seconds until the logo appears.",
            "If it still does not sync, remove the tracker in the app (Devices > Pulse > Remove) "
            "and in the Bluetooth settings, then add it again; your saved history stays in your "
            "account.",
        ),
        product_sku=PULSE_SKU,
        keywords=("sync", "syncing", "app", "steps", "sleep data", "not updating", "tracker"),
    ),
    HelpArticle(
        id="companion-app-update",
        title=f"Update the {APP_NAME} and your device's firmware",
        summary="Update the app from your app store, then install firmware from the device page.",
        steps=(
            "On iPhone, open the App Store, tap your profile picture and tap Update next to "
            f"{APP_NAME}.",
            "On Android, open Google Play, tap your profile icon, choose Manage apps & device and "
            "install the pending updates.",
            "Open the app and go to your device's page: a banner appears when new firmware is "
            "available.",
            "Before a firmware update, charge the device above 30% and keep it next to the "
            "phone; the update takes up to 10 minutes.",
            'Keep the app open until it says "Update complete"; if the update is interrupted, '
            "simply start it again.",
        ),
        keywords=("update", "upgrade", "app", "version", "firmware", "latest"),
    ),
    HelpArticle(
        id="account-password-reset",
        title="Reset your account password",
        summary="Request a reset link by email and choose a new password.",
        steps=(
            'On the sign-in page, choose "Forgot password?".',
            'Enter the email address you use for your orders and press "Send reset link".',
            "Open the email within 60 minutes and follow the link; if it has not arrived after "
            "5 minutes, look in your spam or junk folder.",
            "Choose a new password of at least 10 characters that you do not use anywhere else.",
            "Sign in with the new password; for your safety, other devices are signed out.",
        ),
        keywords=("password", "forgot", "reset password", "login", "sign in", "locked out"),
    ),
    HelpArticle(
        id="account-two-factor",
        title="Two-factor sign-in codes do not work",
        summary="Check your phone's clock, request one SMS code at a time, or use a backup code.",
        steps=(
            "Authenticator codes change every 30 seconds: type the current one, and set your "
            "phone's clock to update automatically, because a clock a minute off makes codes fail.",
            "For text-message codes, wait up to 2 minutes and request only one new code; each "
            "new request cancels the previous one.",
            "Use one of the backup codes you saved when you turned on two-factor sign-in; each "
            "works once.",
            'Lost your phone? Choose "Can\'t use your code?" on the sign-in page to confirm by '
            "email and move two-factor sign-in to your new phone.",
            "After too many wrong codes, sign-in pauses for 15 minutes; wait, then try again.",
        ),
        keywords=("two-factor", "2fa", "code", "authenticator", "sms", "verification", "login"),
    ),
)
"""Ten troubleshooting articles, in the order they are stored."""

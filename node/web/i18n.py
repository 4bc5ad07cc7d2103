"""The pages' words in Dutch and English, the choice between them, and dates in each.

The language is chosen by ``?lang=`` (which is then kept in a cookie), else the
cookie, else the browser's ``Accept-Language``, else Dutch. Strings are looked up
by key; ``{name}`` placeholders are filled by ``str.format``. Both dictionaries have
the same keys (a test checks); add a key to both.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from protocol.errors import ProtocolError

__all__ = [
    "COOKIE",
    "DEFAULT",
    "LANGUAGES",
    "STRINGS",
    "PageError",
    "Translator",
    "choose",
    "choose_language",
    "format_time",
    "translator",
]

#: (code, label) of each language, in the order the switch shows them.
LANGUAGES = (("nl", "Nederlands"), ("en", "English"))
DEFAULT = "nl"
COOKIE = "kantine_lang"
_CODES = {code for code, _ in LANGUAGES}


class PageError(ProtocolError):
    """A page that cannot be served; ``key`` names its message in ``STRINGS`` (``error.*``)."""

    def __init__(self, key: str, status: int) -> None:
        super().__init__(key, status_hint=status)
        self.key = key


def choose_language(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    """``?lang=`` -> cookie -> the best of ``Accept-Language`` we speak -> Dutch."""
    for value in (query, cookie):
        if value in _CODES:
            return value  # type: ignore[return-value]
    best, best_q = None, 0.0
    for part in (accept_language or "").split(",")[:20]:
        tag, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    quality = float(param[2:])
                except ValueError:
                    quality = 0.0
        code = tag.split("-", 1)[0].lower()
        if code in _CODES and quality > best_q:
            best, best_q = code, quality
    return best or DEFAULT


def choose(request: web.Request) -> tuple[str, bool]:
    """The request's language, and whether ``?lang=`` chose it (so the cookie is set)."""
    query = request.query.get("lang")
    lang = choose_language(
        query, request.cookies.get(COOKIE), request.headers.get("Accept-Language")
    )
    return lang, query == lang


class Translator:
    """``t("key", name=...)`` in templates; ``t.has("key")`` for optional strings."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.strings = STRINGS[lang]

    def has(self, key: str) -> bool:
        return key in self.strings

    def __call__(self, key: str, **values: Any) -> str:
        template = self.strings.get(key) or STRINGS["en"].get(key) or key
        return template.format(**values) if values else template


_TRANSLATORS: dict[str, Translator] = {}


def translator(lang: str) -> Translator:
    if lang not in _TRANSLATORS:
        _TRANSLATORS[lang] = Translator(lang)
    return _TRANSLATORS[lang]


_MONTHS = {
    "en": "January February March April May June July August September October November December",
    "nl": "januari februari maart april mei juni juli augustus september oktober november december",
}
_DAYS = {"en": "Mon Tue Wed Thu Fri Sat Sun", "nl": "ma di wo do vr za zo"}


def format_time(moment: datetime, lang: str, *, date_only: bool = False) -> str:
    """``Thu 5 June 2025, 19:30`` / ``do 5 juni 2025, 19:30`` (in the zone ``moment`` has)."""
    day = _DAYS[lang].split()[moment.weekday()]
    month = _MONTHS[lang].split()[moment.month - 1]
    text = f"{day} {moment.day} {month} {moment.year}"
    return text if date_only else f"{text}, {moment:%H:%M}"


_EN: dict[str, str] = {
    # navigation and frame
    "nav.skip": "Skip to content",
    "nav.label": "Main",
    "nav.home": "Home",
    "nav.board": "Assignments",
    "nav.members": "Members",
    "nav.me": "My page",
    "nav.admin": "Admin",
    "nav.signin": "Sign in",
    "nav.signout": "Sign out ({name})",
    "footer.text": "{name} — part of a co-operative of networks on the fediverse (Kantine).",
    # home
    "home.title": "Home",
    "home.intro": "Meetups, open assignments and the people of our network and the networks we work with.",
    "home.meetups": "Upcoming meetups",
    "home.no_meetups": "No meetups planned yet.",
    "home.assignments": "Newest open assignments",
    "home.all_assignments": "All assignments",
    "home.members": "Members",
    "home.members_text": "{count} members in this network.",
    "home.to_directory": "Find people by skill and city",
    # board
    "board.title": "Assignment board",
    "board.new": "Post an assignment",
    "board.signed_out": "Sign in to see the assignments shared only with the co-operative or this network, and to respond.",
    "board.filters": "Filter assignments",
    "board.count": "{count} open assignments",
    "board.empty": "No open assignments match.",
    "filter.any": "Any",
    "filter.apply": "Filter",
    "filter.search": "Search",
    "filter.clear": "Clear",
    # assignment
    "assignment.remote": "remote",
    "assignment.remote_ok": "Can be done remotely",
    "assignment.deadline_short": "by {date}",
    "assignment.at_origin": "View on its own network",
    "assignment.respond": "Respond",
    "assignment.message": "Your message to the author",
    "assignment.message_help": "Say what you offer, when you can start, and how to reach you.",
    "assignment.send_offer": "Send my offer",
    "assignment.signin_to_respond": "Sign in to respond",
    "assignment.manage": "Your assignment",
    "assignment.edit": "Edit assignment",
    "assignment.fill": "Mark as filled",
    "assignment.withdraw": "Withdraw",
    "assignment.publish": "Publish",
    "assignment.visibility": "Who may see it",
    "assignment.budget_help": "An amount and a currency, e.g. 1500 EUR.",
    "offers.title": "Offers",
    "offers.none": "No offers yet.",
    "offer.accept": "Accept",
    "offer.reject": "Reject",
    "offer.mine": "me",
    "offer.state.pending": "waiting",
    "offer.state.accepted": "accepted",
    "offer.state.rejected": "rejected",
    "status.open": "open",
    "status.filled": "filled",
    "status.withdrawn": "withdrawn",
    # labels
    "label.assignment": "Assignment",
    "label.author": "Posted by",
    "label.budget": "Budget",
    "label.city": "City",
    "label.date": "Date",
    "label.deadline": "Deadline",
    "label.description": "Description",
    "label.discipline": "Discipline",
    "label.from": "From",
    "label.name": "Name",
    "label.network": "Network",
    "label.place": "Place",
    "label.published": "Posted",
    "label.skill": "Skill",
    "label.skills": "Skills",
    "label.state": "State",
    "label.status": "Status",
    "label.summary": "About you",
    "label.title": "Title",
    "label.visibility": "Visible to",
    "label.website": "Website",
    "visibility.public": "everyone",
    "visibility.cooperative": "the co-operative",
    "visibility.network": "this network",
    "visibility.public.long": "Everyone, on any server",
    "visibility.cooperative.long": "The networks of our co-operative",
    "visibility.network.long": "Members of this network only",
    # directory and cards
    "directory.title": "Member directory",
    "directory.intro": "People in this network and in the networks of the co-operative.",
    "directory.search": "Search members",
    "directory.count": "{count} members",
    "directory.empty": "Nobody matches.",
    "directory.signed_out": "Some cards are shown only to members: sign in to see them.",
    "member.available": "available for work",
    "member.links": "Links",
    "member.assignments": "Open assignments",
    "member.hidden.cooperative": "This card is shown only within the co-operative.",
    "member.hidden.network": "This card is shown only to members of this network.",
    # sign in
    "signin.title": "Sign in",
    "signin.username": "Username",
    "signin.password": "Password",
    "signin.submit": "Sign in",
    "signin.failed": "That username and password do not match.",
    "signin.help": "No password yet? Ask an admin of the network to set one for you.",
    # my pages
    "me.title": "My page",
    "me.card": "My card",
    "me.card_text": "Your card is visible to {visibility}.",
    "me.edit_card": "Edit my card",
    "me.view_card": "View my card",
    "me.assignments": "My assignments",
    "me.no_assignments": "You have not posted an assignment yet.",
    "me.offers": "Offers",
    "me.no_offers": "No offers made or received.",
    "card.title": "My card",
    "card.skills_help": "Separate skills with commas; each becomes a hashtag.",
    "card.links_help": "One per line: a label, =, and a link, e.g. Portfolio = https://example.nl",
    "card.available": "I am available for assignments",
    "card.visibility": "Who sees my card",
    "form.save": "Save",
    "form.cancel": "Cancel",
    "leave.title": "Leave the network",
    "leave.text": "Leaving deletes your card and your assignments here and on every network that has a copy. This cannot be undone.",
    "leave.start": "Leave the network…",
    "leave.confirm_text": "To confirm, type your username ({name}).",
    "leave.confirm_label": "Your username",
    "leave.submit": "Delete my card and leave",
    "leave.mismatch": "That is not your username; nothing was deleted.",
    # admin
    "admin.title": "Network admin",
    "admin.requests": "Follow requests",
    "admin.no_requests": "No requests are waiting.",
    "admin.approve": "Approve",
    "admin.reject": "Reject",
    "admin.partners": "In the co-operative",
    "admin.blocks": "Blocked domains",
    "admin.no_blocks": "No domain is blocked.",
    "admin.host": "Domain",
    "admin.reason": "Reason",
    "admin.block": "Block",
    "admin.unblock": "Unblock",
    "admin.queue": "Delivery queue",
    "admin.unavailable": "Unavailable hosts:",
    "admin.failures": "Failed deliveries",
    "admin.no_failures": "No failed deliveries.",
    "admin.retry": "Retry failed deliveries",
    "admin.pending": "Waiting deliveries",
    "admin.no_pending": "Nothing is waiting.",
    "admin.inbox": "Inbox",
    "admin.attempts": "Attempts",
    "admin.status": "HTTP status",
    "admin.error": "Error",
    "admin.next": "Next attempt",
    "delivery.queued": "queued",
    "delivery.inflight": "being sent",
    "delivery.done": "delivered",
    "delivery.failed": "failed",
    "delivery.cancelled": "cancelled",
    # notices after a form
    "notice.signed_out": "You are signed out.",
    "notice.left": "Your card is deleted; the other networks are being told.",
    "notice.card_saved": "Your card is saved; the networks that follow us will see the change.",
    "notice.published": "Your assignment is published.",
    "notice.saved": "Saved.",
    "notice.filled": "The assignment is marked as filled.",
    "notice.withdrawn": "The assignment is withdrawn.",
    "notice.offer_sent": "Your offer is sent to the author.",
    "notice.offer_accepted": "You accepted the offer; the member is told.",
    "notice.offer_rejected": "You rejected the offer; the member is told.",
    "notice.approved": "The follow request is approved.",
    "notice.rejected": "The follow request is rejected.",
    "notice.blocked": "The domain is blocked; what was queued for it is cancelled.",
    "notice.unblocked": "The domain is no longer blocked.",
    "notice.retried": "Failed deliveries are queued again.",
    # errors
    "error.title": "Error {status}",
    "error.home": "Back to the home page",
    "error.other": "Something went wrong.",
    "error.400": "The request is not acceptable.",
    "error.401": "You need to sign in for this.",
    "error.403": "You may not do this.",
    "error.404": "There is no such page (or it is not shown to you).",
    "error.409": "This conflicts with what is there already.",
    "error.410": "This is gone.",
    "error.413": "That is too large.",
    "error.429": "Too many requests; try again in a minute.",
    "error.not_found": "Not found.",
    "error.cross_site": "This form was sent from another site, so it was refused.",
    "error.csrf": "This form has expired. Go back, reload the page and try again.",
    "error.signin_needed": "Please sign in first.",
    "error.admin_only": "Only admins of the network may see this.",
    "error.link_format": "Write each link as: label = https://...",
    "error.bad_host": "Give a domain name, like spam.example.",
    "error.own_host": "You cannot block your own domain.",
}

_NL: dict[str, str] = {
    "nav.skip": "Naar de inhoud",
    "nav.label": "Hoofdmenu",
    "nav.home": "Start",
    "nav.board": "Opdrachten",
    "nav.members": "Leden",
    "nav.me": "Mijn pagina",
    "nav.admin": "Beheer",
    "nav.signin": "Inloggen",
    "nav.signout": "Uitloggen ({name})",
    "footer.text": "{name} — deel van een coöperatie van netwerken op de fediverse (Kantine).",
    "home.title": "Start",
    "home.intro": "Bijeenkomsten, open opdrachten en de mensen van ons netwerk en de netwerken waarmee we samenwerken.",
    "home.meetups": "Komende bijeenkomsten",
    "home.no_meetups": "Nog geen bijeenkomsten gepland.",
    "home.assignments": "Nieuwste open opdrachten",
    "home.all_assignments": "Alle opdrachten",
    "home.members": "Leden",
    "home.members_text": "{count} leden in dit netwerk.",
    "home.to_directory": "Zoek mensen op vaardigheid en plaats",
    "board.title": "Opdrachtenbord",
    "board.new": "Opdracht plaatsen",
    "board.signed_out": "Log in om ook de opdrachten te zien die alleen met de coöperatie of dit netwerk gedeeld zijn, en om te reageren.",
    "board.filters": "Opdrachten filteren",
    "board.count": "{count} open opdrachten",
    "board.empty": "Geen open opdrachten gevonden.",
    "filter.any": "Alle",
    "filter.apply": "Filteren",
    "filter.search": "Zoeken",
    "filter.clear": "Wissen",
    "assignment.remote": "op afstand",
    "assignment.remote_ok": "Kan op afstand",
    "assignment.deadline_short": "vóór {date}",
    "assignment.at_origin": "Bekijk bij het eigen netwerk",
    "assignment.respond": "Reageren",
    "assignment.message": "Je bericht aan de plaatser",
    "assignment.message_help": "Vertel wat je aanbiedt, wanneer je kunt beginnen en hoe men je bereikt.",
    "assignment.send_offer": "Verstuur mijn aanbod",
    "assignment.signin_to_respond": "Log in om te reageren",
    "assignment.manage": "Jouw opdracht",
    "assignment.edit": "Opdracht bewerken",
    "assignment.fill": "Markeren als vervuld",
    "assignment.withdraw": "Intrekken",
    "assignment.publish": "Publiceren",
    "assignment.visibility": "Wie mag hem zien",
    "assignment.budget_help": "Een bedrag en een munteenheid, bijvoorbeeld 1500 EUR.",
    "offers.title": "Aanbiedingen",
    "offers.none": "Nog geen aanbiedingen.",
    "offer.accept": "Accepteren",
    "offer.reject": "Afwijzen",
    "offer.mine": "ik",
    "offer.state.pending": "in afwachting",
    "offer.state.accepted": "geaccepteerd",
    "offer.state.rejected": "afgewezen",
    "status.open": "open",
    "status.filled": "vervuld",
    "status.withdrawn": "ingetrokken",
    "label.assignment": "Opdracht",
    "label.author": "Geplaatst door",
    "label.budget": "Budget",
    "label.city": "Plaats",
    "label.date": "Datum",
    "label.deadline": "Deadline",
    "label.description": "Omschrijving",
    "label.discipline": "Vakgebied",
    "label.from": "Van",
    "label.name": "Naam",
    "label.network": "Netwerk",
    "label.place": "Locatie",
    "label.published": "Geplaatst",
    "label.skill": "Vaardigheid",
    "label.skills": "Vaardigheden",
    "label.state": "Stand",
    "label.status": "Status",
    "label.summary": "Over jou",
    "label.title": "Titel",
    "label.visibility": "Zichtbaar voor",
    "label.website": "Website",
    "visibility.public": "iedereen",
    "visibility.cooperative": "de coöperatie",
    "visibility.network": "dit netwerk",
    "visibility.public.long": "Iedereen, op elke server",
    "visibility.cooperative.long": "De netwerken van onze coöperatie",
    "visibility.network.long": "Alleen leden van dit netwerk",
    "directory.title": "Ledenoverzicht",
    "directory.intro": "Mensen in dit netwerk en in de netwerken van de coöperatie.",
    "directory.search": "Leden zoeken",
    "directory.count": "{count} leden",
    "directory.empty": "Niemand gevonden.",
    "directory.signed_out": "Sommige kaarten zijn alleen voor leden: log in om ze te zien.",
    "member.available": "beschikbaar voor werk",
    "member.links": "Links",
    "member.assignments": "Open opdrachten",
    "member.hidden.cooperative": "Deze kaart is alleen zichtbaar binnen de coöperatie.",
    "member.hidden.network": "Deze kaart is alleen zichtbaar voor leden van dit netwerk.",
    "signin.title": "Inloggen",
    "signin.username": "Gebruikersnaam",
    "signin.password": "Wachtwoord",
    "signin.submit": "Inloggen",
    "signin.failed": "Deze gebruikersnaam en dit wachtwoord horen niet bij elkaar.",
    "signin.help": "Nog geen wachtwoord? Vraag een beheerder van het netwerk er een voor je in te stellen.",
    "me.title": "Mijn pagina",
    "me.card": "Mijn kaart",
    "me.card_text": "Je kaart is zichtbaar voor {visibility}.",
    "me.edit_card": "Mijn kaart bewerken",
    "me.view_card": "Mijn kaart bekijken",
    "me.assignments": "Mijn opdrachten",
    "me.no_assignments": "Je hebt nog geen opdracht geplaatst.",
    "me.offers": "Aanbiedingen",
    "me.no_offers": "Geen aanbiedingen gedaan of ontvangen.",
    "card.title": "Mijn kaart",
    "card.skills_help": "Scheid vaardigheden met komma's; elke wordt een hashtag.",
    "card.links_help": "Eén per regel: een naam, =, en een link, bijvoorbeeld Portfolio = https://example.nl",
    "card.available": "Ik ben beschikbaar voor opdrachten",
    "card.visibility": "Wie ziet mijn kaart",
    "form.save": "Opslaan",
    "form.cancel": "Annuleren",
    "leave.title": "Het netwerk verlaten",
    "leave.text": "Als je vertrekt, worden je kaart en je opdrachten verwijderd, hier en bij elk netwerk dat een kopie heeft. Dit kan niet ongedaan worden gemaakt.",
    "leave.start": "Het netwerk verlaten…",
    "leave.confirm_text": "Typ ter bevestiging je gebruikersnaam ({name}).",
    "leave.confirm_label": "Je gebruikersnaam",
    "leave.submit": "Verwijder mijn kaart en vertrek",
    "leave.mismatch": "Dat is niet je gebruikersnaam; er is niets verwijderd.",
    "admin.title": "Netwerkbeheer",
    "admin.requests": "Volgverzoeken",
    "admin.no_requests": "Er wachten geen verzoeken.",
    "admin.approve": "Goedkeuren",
    "admin.reject": "Afwijzen",
    "admin.partners": "In de coöperatie",
    "admin.blocks": "Geblokkeerde domeinen",
    "admin.no_blocks": "Er is geen domein geblokkeerd.",
    "admin.host": "Domein",
    "admin.reason": "Reden",
    "admin.block": "Blokkeren",
    "admin.unblock": "Deblokkeren",
    "admin.queue": "Bezorgwachtrij",
    "admin.unavailable": "Onbereikbare servers:",
    "admin.failures": "Mislukte bezorgingen",
    "admin.no_failures": "Geen mislukte bezorgingen.",
    "admin.retry": "Mislukte bezorgingen opnieuw proberen",
    "admin.pending": "Wachtende bezorgingen",
    "admin.no_pending": "Er wacht niets.",
    "admin.inbox": "Inbox",
    "admin.attempts": "Pogingen",
    "admin.status": "HTTP-status",
    "admin.error": "Fout",
    "admin.next": "Volgende poging",
    "delivery.queued": "in de wachtrij",
    "delivery.inflight": "wordt verstuurd",
    "delivery.done": "bezorgd",
    "delivery.failed": "mislukt",
    "delivery.cancelled": "geannuleerd",
    "notice.signed_out": "Je bent uitgelogd.",
    "notice.left": "Je kaart is verwijderd; de andere netwerken krijgen bericht.",
    "notice.card_saved": "Je kaart is opgeslagen; de netwerken die ons volgen zien de wijziging.",
    "notice.published": "Je opdracht is gepubliceerd.",
    "notice.saved": "Opgeslagen.",
    "notice.filled": "De opdracht is gemarkeerd als vervuld.",
    "notice.withdrawn": "De opdracht is ingetrokken.",
    "notice.offer_sent": "Je aanbod is naar de plaatser gestuurd.",
    "notice.offer_accepted": "Je hebt het aanbod geaccepteerd; het lid krijgt bericht.",
    "notice.offer_rejected": "Je hebt het aanbod afgewezen; het lid krijgt bericht.",
    "notice.approved": "Het volgverzoek is goedgekeurd.",
    "notice.rejected": "Het volgverzoek is afgewezen.",
    "notice.blocked": "Het domein is geblokkeerd; wat ervoor klaarstond is geannuleerd.",
    "notice.unblocked": "Het domein is niet langer geblokkeerd.",
    "notice.retried": "Mislukte bezorgingen staan opnieuw in de wachtrij.",
    "error.title": "Fout {status}",
    "error.home": "Terug naar de startpagina",
    "error.other": "Er ging iets mis.",
    "error.400": "Dit verzoek is niet geldig.",
    "error.401": "Hiervoor moet je inloggen.",
    "error.403": "Dit mag je niet doen.",
    "error.404": "Deze pagina bestaat niet (of is niet voor jou zichtbaar).",
    "error.409": "Dit botst met wat er al is.",
    "error.410": "Dit is verwijderd.",
    "error.413": "Dat is te groot.",
    "error.429": "Te veel verzoeken; probeer het over een minuut opnieuw.",
    "error.not_found": "Niet gevonden.",
    "error.cross_site": "Dit formulier kwam van een andere website en is geweigerd.",
    "error.csrf": "Dit formulier is verlopen. Ga terug, laad de pagina opnieuw en probeer het nog eens.",
    "error.signin_needed": "Log eerst in.",
    "error.admin_only": "Alleen beheerders van het netwerk mogen dit zien.",
    "error.link_format": "Schrijf elke link als: naam = https://...",
    "error.bad_host": "Geef een domeinnaam, zoals spam.example.",
    "error.own_host": "Je kunt je eigen domein niet blokkeren.",
}

STRINGS: dict[str, dict[str, str]] = {"en": _EN, "nl": _NL}

"""IRIs, media types and the inline JSON-LD context of the terms Kantine uses."""

from __future__ import annotations

from typing import Any, Final

__all__ = [
    "ACCEPTED_AP_TYPES",
    "ACTIVITY_JSON",
    "ACTOR_TYPES",
    "AS_CONTEXT",
    "AS_PUBLIC",
    "CONTEXT",
    "DATA_INTEGRITY_V1",
    "JRD_JSON",
    "KANTINE_NS",
    "KANTINE_TERMS",
    "LD_JSON",
    "MULTIKEY_V1",
    "NODEINFO_20",
    "NODEINFO_21",
    "PUBLIC_SPELLINGS",
    "RFC9421_IMPLEMENTS",
    "SECURITY_V1",
    "context_document",
]

AS_CONTEXT: Final = "https://www.w3.org/ns/activitystreams"
SECURITY_V1: Final = "https://w3id.org/security/v1"
DATA_INTEGRITY_V1: Final = "https://w3id.org/security/data-integrity/v1"
MULTIKEY_V1: Final = "https://w3id.org/security/multikey/v1"
KANTINE_NS: Final = "https://kantine.coop/ns#"

#: The public collection, in the three spellings peers use.
AS_PUBLIC: Final = "https://www.w3.org/ns/activitystreams#Public"
PUBLIC_SPELLINGS: Final = frozenset({AS_PUBLIC, "as:Public", "Public"})

ACTIVITY_JSON: Final = "application/activity+json"
LD_JSON: Final = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
JRD_JSON: Final = "application/jrd+json"
#: Content types an inbox accepts (parameters ignored).
ACCEPTED_AP_TYPES: Final = frozenset(
    {"application/activity+json", "application/ld+json", "application/json"}
)

NODEINFO_20: Final = "http://nodeinfo.diaspora.software/ns/schema/2.0"
NODEINFO_21: Final = "http://nodeinfo.diaspora.software/ns/schema/2.1"

#: FEP-844e capability IRI for RFC 9421 signatures.
RFC9421_IMPLEMENTS: Final = "https://datatracker.ietf.org/doc/html/rfc9421"

ACTOR_TYPES: Final = frozenset({"Person", "Group", "Application", "Service", "Organization"})

#: Our own terms and the Mobilizon / schema.org / Mastodon terms we use, inline
#: (as Mastodon does with ``toot:``) so nothing has to be fetched to read us.
KANTINE_TERMS: Final[dict[str, Any]] = {
    "kantine": KANTINE_NS,
    "sc": "http://schema.org/",
    "mz": "https://joinmobilizon.org/ns#",
    "toot": "http://joinmastodon.org/ns#",
    "fep": "https://w3id.org/fep/",
    "Hashtag": "as:Hashtag",
    "PropertyValue": "sc:PropertyValue",
    "value": "sc:value",
    "PostalAddress": "sc:PostalAddress",
    "address": {"@id": "sc:address", "@type": "@id"},
    "streetAddress": "sc:streetAddress",
    "postalCode": "sc:postalCode",
    "addressLocality": "sc:addressLocality",
    "addressRegion": "sc:addressRegion",
    "addressCountry": "sc:addressCountry",
    "VirtualLocation": "sc:VirtualLocation",
    "eventStatus": {"@id": "sc:eventStatus", "@type": "@vocab"},
    "EventScheduled": "sc:EventScheduled",
    "EventCancelled": "sc:EventCancelled",
    "EventPostponed": "sc:EventPostponed",
    "EventMovedOnline": "sc:EventMovedOnline",
    "maximumAttendeeCapacity": "sc:maximumAttendeeCapacity",
    "remainingAttendeeCapacity": "sc:remainingAttendeeCapacity",
    "organizers": {"@id": "sc:organizer", "@type": "@id"},
    "attendees": {"@id": "sc:attendee", "@type": "@id"},
    "timezone": "mz:timezone",
    "joinMode": {"@id": "mz:joinMode", "@type": "mz:joinModeType"},
    "participantCount": {"@id": "mz:participantCount", "@type": "sc:Number"},
    "externalParticipationUrl": {"@id": "mz:externalParticipationUrl", "@type": "sc:URL"},
    "discoverable": "toot:discoverable",
    "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
    "Proposal": "https://w3id.org/valueflows/ont/vf#Proposal",
    "Intent": "https://w3id.org/valueflows/ont/vf#Intent",
    "Agreement": "https://w3id.org/valueflows/ont/vf#Agreement",
    "Commitment": "https://w3id.org/valueflows/ont/vf#Commitment",
    "satisfies": {"@id": "https://w3id.org/valueflows/ont/vf#satisfies", "@type": "@id"},
    "purpose": {"@id": "https://w3id.org/valueflows/ont/vf#purpose", "@type": "@vocab"},
    "publishes": {"@id": "https://w3id.org/valueflows/ont/vf#publishes", "@type": "@id"},
    "reciprocal": {"@id": "https://w3id.org/valueflows/ont/vf#reciprocal", "@type": "@id"},
    "action": {"@id": "https://w3id.org/valueflows/ont/vf#action", "@type": "@vocab"},
    "deliverService": "https://w3id.org/valueflows/ont/vf#deliverService",
    "transfer": "https://w3id.org/valueflows/ont/vf#transfer",
    "resourceConformsTo": {
        "@id": "https://w3id.org/valueflows/ont/vf#resourceConformsTo",
        "@type": "@id",
    },
    "resourceQuantity": "https://w3id.org/valueflows/ont/vf#resourceQuantity",
    "hasUnit": "http://www.ontology-of-units-of-measure.org/resource/om-2/hasUnit",
    "hasNumericalValue": "http://www.ontology-of-units-of-measure.org/resource/om-2/hasNumericalValue",
    "stipulates": {"@id": "https://w3id.org/valueflows/ont/vf#stipulates", "@type": "@id"},
    "stipulatesReciprocal": {
        "@id": "https://w3id.org/valueflows/ont/vf#stipulatesReciprocal",
        "@type": "@id",
    },
    "due": {"@id": "https://w3id.org/valueflows/ont/vf#due", "@type": "xsd:dateTime"},
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "implements": {"@id": "fep:844e/implements", "@type": "@id", "@container": "@set"},
    "discipline": "kantine:discipline",
    "city": "kantine:city",
    "visibility": "kantine:visibility",
    "status": "kantine:status",
    "availableForAssignments": "kantine:availableForAssignments",
    "series": {"@id": "kantine:series", "@type": "@id"},
    "recurrence": "kantine:recurrence",
    "waitlist": "kantine:waitlist",
    "cooperative": {"@id": "kantine:cooperative", "@type": "@id"},
    "participants": {"@id": "kantine:participants", "@type": "@id"},
}

#: The ``@context`` every document we publish carries.
CONTEXT: Final[list[Any]] = [AS_CONTEXT, SECURITY_V1, DATA_INTEGRITY_V1, MULTIKEY_V1, KANTINE_TERMS]


def context_document() -> dict[str, Any]:
    """Return ``schemas/context.jsonld``: our inline term map as a standalone context."""
    return {"@context": dict(KANTINE_TERMS)}

"""Request and response shapes of the commerce API (management-api.md §3 and §8).

Inputs follow the house casing rules (snake_case, camelCase accepted); every problem is reported
at the path the caller spelled. Rules that span several fields (latitude with longitude,
duplicates inside one request) are checked by each model's `problems()` after field validation,
so they can be reported at a precise path too.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    Strict,
    StrictBool,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from reten.commerces.models import CommerceUserRole, ContactType, RecordSource
from reten.kit.pagination import Page
from reten.kit.schemas import InputModel, Name255, ReadModel, Timestamp
from reten.kit.sync import SyncBody
from reten.kit.validators import Metadata, NoNull, check_e164, check_email, join_name

if TYPE_CHECKING:
    from reten.commerces.models import Address, Commerce, CommerceUser, Contact

# (path relative to the validated object, message)
Loc = tuple[str | int, ...]
Problem = tuple[Loc, str]

MAX_ADDRESSES = 100
MAX_USERS = 100
MAX_CONTACTS = 50

# ISO 3166-1 alpha-2, every officially assigned code.
_COUNTRY_TABLE = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ
    BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM
    DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS
    GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN
    KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ
    MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM
    PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV
    SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI
    VN VU WF WS YE YT ZA ZM ZW
"""
COUNTRY_CODES = frozenset(_COUNTRY_TABLE.split())


def _blank_to_none(value: Any) -> Any:
    # An optional text sent as "" (or only spaces) means "no value": storing "" would make two
    # commerces with an empty tax id collide, and nobody can tell "" from null in a response.
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _country(value: str) -> str:
    code = value.upper()
    if code not in COUNTRY_CODES:
        raise ValueError("must be an ISO 3166-1 alpha-2 country code (e.g. CL)")
    return code


Text255 = Annotated[
    Annotated[str, StringConstraints(strip_whitespace=True, max_length=255)] | None,
    BeforeValidator(_blank_to_none),
]
Text500 = Annotated[
    Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None,
    BeforeValidator(_blank_to_none),
]
Text64 = Annotated[
    Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] | None,
    BeforeValidator(_blank_to_none),
]
CountryCode = Annotated[
    Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_country)] | None,
    BeforeValidator(_blank_to_none),
]
Latitude = Annotated[float, Strict(), Field(ge=-90, le=90)] | None
Longitude = Annotated[float, Strict(), Field(ge=-180, le=180)] | None
# Booleans: JSON true/false only (no "yes", no 1), never null.
Flag = Annotated[StrictBool, NoNull]
OptionalFlag = Annotated[StrictBool | None, NoNull]
OptionalSource = Annotated[RecordSource | None, NoNull]

Name255OrNone = Annotated[Name255 | None, NoNull]


# --- cross-field rules -------------------------------------------------------------------------


def _prefixed(prefix: Loc, problems: Iterable[Problem]) -> list[Problem]:
    return [((*prefix, *loc), message) for loc, message in problems]


def _duplicates(keys: Iterable[Any], path: Loc, field_name: str | None) -> list[Problem]:
    """A problem at `path[j].field_name` (or `path[j]`) for every element whose key an earlier
    element has; None keys never collide."""
    first: dict[Any, int] = {}
    out: list[Problem] = []
    for j, key in enumerate(keys):
        if key is None:
            continue
        if key in first:
            message = f"must be unique in the request (same as {path[-1]}[{first[key]}])"
            loc: Loc = (*path, j) if field_name is None else (*path, j, field_name)
            out.append((loc, message))
        else:
            first[key] = j
    return out


def _coordinates(
    model: BaseModel, latitude: float | None, longitude: float | None
) -> list[Problem]:
    """Latitude and longitude travel together: both given (both numbers or both null) or none."""
    given = model.model_fields_set
    has_lat, has_lon = "latitude" in given, "longitude" in given
    if has_lat and not has_lon:
        return [(("longitude",), "must be given together with latitude")]
    if has_lon and not has_lat:
        return [(("latitude",), "must be given together with longitude")]
    if has_lat and (latitude is None) != (longitude is None):
        missing = "latitude" if latitude is None else "longitude"
        other = "longitude" if missing == "latitude" else "latitude"
        return [((missing,), f"must not be null when {other} is given")]
    return []


def _check_contact_value(contact_type: ContactType | str | None, value: str) -> str:
    if contact_type == ContactType.EMAIL:
        return check_email(value)
    if contact_type in (ContactType.PHONE, ContactType.WHATSAPP):
        return check_e164(value)
    return value


def check_contact_value(contact_type: str, value: str) -> str:
    """The rule of `value` for a contact of `contact_type` (used when the type is stored)."""
    return _check_contact_value(contact_type, value)


# --- inputs ------------------------------------------------------------------------------------


class AddressFields(InputModel):
    address_alias: Text255 = None
    street: Text255 = None
    street_number: Text255 = None
    unit: Text255 = None
    city: Text255 = None
    commune: Text255 = None
    region: Text255 = None
    country_code: CountryCode = None
    formatted_address: Text500 = None
    latitude: Latitude = None
    longitude: Longitude = None

    def problems(self) -> list[Problem]:
        return _coordinates(self, self.latitude, self.longitude)


class AddressInput(AddressFields):
    """An address nested in a commerce (create or sync item)."""

    source: OptionalSource = None
    source_ref: Text255 = None
    is_primary: Flag = False
    is_active: Flag = True


class AddressCreate(AddressInput):
    """POST /api/commerces/:commerceId/addresses: `source` is required here."""

    source: RecordSource


class AddressUpdate(AddressFields):
    is_primary: OptionalFlag = None
    is_active: OptionalFlag = None


class ContactInput(InputModel):
    contact_type: ContactType
    value: Name255
    source: OptionalSource = None
    is_primary: Flag = False
    is_active: Flag = True

    @field_validator("value")
    @classmethod
    def _value_fits_type(cls, value: str, info: ValidationInfo) -> str:
        # When contact_type itself is invalid it is reported on its own; no second guess here.
        return _check_contact_value(info.data.get("contact_type"), value)

    def key(self) -> tuple[str, str]:
        return (self.contact_type.value, self.value)


class ContactCreate(ContactInput):
    source: RecordSource


class ContactUpdate(InputModel):
    value: Name255OrNone = None
    is_primary: OptionalFlag = None
    is_active: OptionalFlag = None


class CommerceUserInput(InputModel):
    external_id: Text255 = None
    name: Text255 = None
    source: OptionalSource = None
    roles: Annotated[list[CommerceUserRole], NoNull] = Field(default_factory=list)
    contacts: Annotated[list[ContactInput], NoNull, Field(max_length=MAX_CONTACTS)] = Field(
        default_factory=list
    )

    def problems(self) -> list[Problem]:
        out = _duplicates(self.roles, ("roles",), None)
        out += _duplicates((c.key() for c in self.contacts), ("contacts",), "value")
        return out


class CommerceUserCreate(CommerceUserInput):
    """POST /api/commerces/:commerceId/users: the nested user shape, as a body of its own."""


class SyncUserInput(CommerceUserInput):
    """A user inside a sync item: `external_id` is the match key, so it is required."""

    external_id: Name255


class CommerceUserUpdate(InputModel):
    # Not `|null` here (§8.11 marks only external_id so): a PATCH renames, it never blanks.
    name: Name255OrNone = None
    external_id: Text255 = None
    is_active: OptionalFlag = None


class CommerceUserRoleCreate(InputModel):
    role: CommerceUserRole


class CommerceInputBase(InputModel):
    external_id: Name255
    name: Name255
    global_external_id: Text255 = None
    tax_id: Text64 = None
    metadata: Annotated[Metadata, NoNull] = Field(default_factory=dict)
    addresses: Annotated[list[AddressInput], NoNull, Field(max_length=MAX_ADDRESSES)] = Field(
        default_factory=list
    )

    def user_inputs(self) -> list[CommerceUserInput]:
        raise NotImplementedError

    def problems(self) -> list[Problem]:
        out: list[Problem] = []
        for i, address in enumerate(self.addresses):
            out += _prefixed(("addresses", i), address.problems())
        out += _duplicates((a.source_ref for a in self.addresses), ("addresses",), "source_ref")
        users = self.user_inputs()
        for i, user in enumerate(users):
            out += _prefixed(("users", i), user.problems())
        out += _duplicates((u.external_id for u in users), ("users",), "external_id")
        return out


class CommerceCreate(CommerceInputBase):
    is_active: Flag = True
    is_placeholder: Flag = False
    users: Annotated[list[CommerceUserInput], NoNull, Field(max_length=MAX_USERS)] = Field(
        default_factory=list
    )

    def user_inputs(self) -> list[CommerceUserInput]:
        return list(self.users)


class CommerceSyncItem(CommerceInputBase):
    """One item of POST /api/commerces/sync: optional fields apply only when given."""

    is_active: OptionalFlag = None
    users: Annotated[list[SyncUserInput], NoNull, Field(max_length=MAX_USERS)] = Field(
        default_factory=list
    )

    def user_inputs(self) -> list[CommerceUserInput]:
        return list(self.users)


class CommerceUpdate(InputModel):
    name: Name255OrNone = None
    tax_id: Text64 = None
    global_external_id: Text255 = None
    is_active: OptionalFlag = None
    metadata: Annotated[Metadata | None, NoNull] = None


class CommerceSync(SyncBody[CommerceSyncItem]):
    """The body of POST /api/commerces/sync (validated item by item, see `kit.sync`)."""


# --- responses ---------------------------------------------------------------------------------


class CommerceRead(ReadModel):
    id: uuid.UUID
    name: str
    external_id: str
    global_external_id: str | None
    tax_id: str | None
    is_active: bool
    is_placeholder: bool
    metadata: dict[str, Any]
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def fields_of(cls, commerce: Commerce) -> dict[str, Any]:
        return {
            "id": commerce.id,
            "name": commerce.name,
            "external_id": commerce.external_id,
            "global_external_id": commerce.global_external_id,
            "tax_id": commerce.tax_id,
            "is_active": commerce.is_active,
            "is_placeholder": commerce.is_placeholder,
            "metadata": commerce.metadata_,
            "created_at": commerce.created_at,
            "updated_at": commerce.updated_at,
        }

    @classmethod
    def of(cls, commerce: Commerce) -> CommerceRead:
        return cls(**cls.fields_of(commerce))


class AddressRead(ReadModel):
    id: uuid.UUID
    commerce_id: uuid.UUID
    address_alias: str | None
    street: str | None
    street_number: str | None
    unit: str | None
    city: str | None
    commune: str | None
    region: str | None
    country_code: str | None
    formatted_address: str | None
    latitude: float | None
    longitude: float | None
    is_primary: bool
    is_active: bool
    source: RecordSource
    source_ref: str | None
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, address: Address) -> AddressRead:
        return cls.model_validate(address)


class ContactRead(ReadModel):
    id: uuid.UUID
    type: ContactType
    value: str
    is_primary: bool
    is_active: bool
    source: RecordSource
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, contact: Contact) -> ContactRead:
        return cls.model_validate(contact)


class RoleRead(ReadModel):
    role: CommerceUserRole


class CommerceUserRead(ReadModel):
    id: uuid.UUID
    commerce_id: uuid.UUID
    name: str | None
    first_name: str | None
    last_name: str | None
    external_id: str | None
    source: RecordSource
    is_active: bool
    roles: list[RoleRead]
    contacts: list[ContactRead]
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(
        cls, user: CommerceUser, roles: Iterable[str], contacts: Iterable[Contact]
    ) -> CommerceUserRead:
        return cls(
            id=user.id,
            commerce_id=user.commerce_id,
            name=join_name(user.first_name, user.last_name),
            first_name=user.first_name,
            last_name=user.last_name,
            external_id=user.external_id,
            source=RecordSource(user.source),
            is_active=user.is_active,
            roles=[RoleRead(role=CommerceUserRole(r)) for r in roles],
            contacts=[ContactRead.of(c) for c in contacts],
            created_at=user.created_at,
            updated_at=user.updated_at,
        )


class CommerceDetailRead(CommerceRead):
    addresses: list[AddressRead]
    users: list[CommerceUserRead]


class CommercePage(Page[CommerceRead]):
    """GET /api/commerces."""

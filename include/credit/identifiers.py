"""Identifiers of credit subjects (信用主体): checking, normalising, masking and hashing.

* Unified Social Credit Code (统一社会信用代码, GB 32100-2015): 18 characters keying legal
  persons, other organisations and individual businesses.  The check digit (position 18) is
  computed by ``python-stdnum``; the embedded organisation code (组织机构代码, GB 11714,
  positions 9-17) carries its own mod-11 check, which stdnum does not look at.
* Resident identity number (居民身份证号码, GB 11643): 18 characters keying natural persons of
  the key groups (重点人群).  Personal information: outside the restricted ``raw`` schema it only
  appears as :func:`hash_identifier` and :func:`mask_resident_id`.
* Legacy identifiers (旧标识) in old source rows, from before the 2015 reform that replaced them
  with the USCC (三证合一): the 15-digit business registration number (工商注册号, GS15-2006:
  a six-digit registration authority code, eight digits, an ISO 7064 MOD 11,10 check digit by
  ``python-stdnum``) and the 9-character organisation code (组织机构代码, GB 11714), which lives
  on as positions 9-17 of the USCC. :func:`check_subject_identifier` accepts either in place
  of a USCC; the warehouse maps them to the USCC where a registration record links them.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError
from stdnum.iso7064 import mod_11_10

log = logging.getLogger(__name__)

HASH_KEY_ENV = "CREDIT_ID_HASH_KEY"
DEVELOPMENT_HASH_KEY = "development-only-key-do-not-use-in-production"

# Registration authority (position 1) and category (position 2) codes of GB 32100-2015.
USCC_CATEGORIES: dict[str, tuple[str, ...]] = {
    "1": ("1", "2", "3", "9"),  # staffing office: organs, public institutions, ...
    "2": ("1", "9"),  # foreign affairs
    "3": ("1", "2", "3", "4", "5", "9"),  # justice: law firms, notaries, ...
    "4": ("1", "9"),  # culture
    "5": ("1", "2", "3", "9"),  # civil affairs: social groups, private non-enterprise units
    "6": ("1", "2", "9"),  # tourism
    "7": ("1", "2", "9"),  # religion
    "8": ("1", "9"),  # trade unions
    "9": ("1", "2", "3"),  # market regulation: enterprises, individual businesses, cooperatives
    "A": ("1", "9"),  # central military commission reform office
    "N": ("1", "2", "3", "9"),  # agriculture: rural collective economic organisations
    "Y": ("1",),  # others
}
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
ORG_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
ORG_CODE_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_SEPARATORS = re.compile(r"[\s\-_./·]")


class IdentifierKind(StrEnum):
    USCC = "uscc"
    RESIDENT_ID = "resident_id"
    REGISTRATION_NUMBER = "registration_number"
    ORGANISATION_CODE = "organisation_code"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class IdentifierCheck:
    """The outcome of checking one identifier: its normal form and, if invalid, why."""

    value: str
    kind: IdentifierKind
    problem: str | None = None

    @property
    def is_valid(self) -> bool:
        return self.problem is None


def normalise(text: str | None) -> str:
    """Normal form of a typed identifier: half-width, no spaces or separators, upper case.

    Full-width letters and digits (ＡＢＣ１２３) become ASCII through NFKC; spaces, including the
    ideographic space, hyphens, dots and underscores are dropped.
    """
    if text is None:
        return ""
    # Dropping a separator or changing case can leave combining marks out of canonical order,
    # so repeat until nothing changes: normalising a normal form must give it back.
    previous, value = None, text
    while value != previous:
        previous = value
        value = _SEPARATORS.sub("", unicodedata.normalize("NFKC", value)).upper()
    return value


def organisation_code_check_char(body: str) -> str:
    """The check character of a GB 11714 organisation code from its first eight characters."""
    total = sum(
        _alnum_value(char) * weight for char, weight in zip(body, ORG_CODE_WEIGHTS, strict=True)
    )
    remainder = 11 - total % 11
    return {10: "X", 11: "0"}.get(remainder, str(remainder))


def check_uscc(text: str | None) -> IdentifierCheck:
    """Check a Unified Social Credit Code after normalising it.

    Problems are reported by name: ``missing``, ``length``, ``format``, ``authority``,
    ``organisation_code_check`` or ``check_digit``.  A code failing only a check digit may be a
    legal early pilot code: it is reported, never silently corrected.
    """
    value = normalise(text)
    kind = IdentifierKind.USCC
    if not value:
        return IdentifierCheck(value, kind, "missing")
    if len(value) != 18:
        return IdentifierCheck(value, kind, "length")
    if any(char not in USCC_ALPHABET for char in value) or not value[2:8].isdigit():
        return IdentifierCheck(value, kind, "format")
    if value[1] not in USCC_CATEGORIES.get(value[0], ()):
        return IdentifierCheck(value, kind, "authority")
    if not check_organisation_code(value[8:17]).is_valid:
        return IdentifierCheck(value, kind, "organisation_code_check")
    if uscc.calc_check_digit(value[:17]) != value[17]:
        return IdentifierCheck(value, kind, "check_digit")
    return IdentifierCheck(value, kind)


def check_resident_id(text: str | None) -> IdentifierCheck:
    """Check an 18-digit resident identity number (GB 11643) after normalising it.

    Problems: ``missing``, ``length``, ``format``, ``birth_date`` or ``check_digit``.
    """
    value = normalise(text)
    kind = IdentifierKind.RESIDENT_ID
    if not value:
        return IdentifierCheck(value, kind, "missing")
    if len(value) != 18:
        return IdentifierCheck(value, kind, "length")
    if not value[:17].isdigit() or value[17] not in "0123456789X":
        return IdentifierCheck(value, kind, "format")
    try:
        ric.get_birth_date(value)
    except ValidationError:
        return IdentifierCheck(value, kind, "birth_date")
    if ric.calc_check_digit(value) != value[17]:
        return IdentifierCheck(value, kind, "check_digit")
    return IdentifierCheck(value, kind)


def check_registration_number(text: str | None) -> IdentifierCheck:
    """Check a 15-digit business registration number (工商注册号) after normalising it.

    Problems: ``missing``, ``length``, ``format`` (not all digits) or ``check_digit``.
    """
    value = normalise(text)
    kind = IdentifierKind.REGISTRATION_NUMBER
    if not value:
        return IdentifierCheck(value, kind, "missing")
    if len(value) != 15:
        return IdentifierCheck(value, kind, "length")
    if not value.isdigit():
        return IdentifierCheck(value, kind, "format")
    if not mod_11_10.is_valid(value):
        return IdentifierCheck(value, kind, "check_digit")
    return IdentifierCheck(value, kind)


def check_organisation_code(text: str | None) -> IdentifierCheck:
    """Check a 9-character organisation code (组织机构代码, GB 11714) after normalising it.

    Problems: ``missing``, ``length``, ``format`` or ``check_digit``.
    """
    value = normalise(text)
    kind = IdentifierKind.ORGANISATION_CODE
    if not value:
        return IdentifierCheck(value, kind, "missing")
    if len(value) != 9:
        return IdentifierCheck(value, kind, "length")
    if any(char not in ORG_CODE_ALPHABET for char in value[:8]):
        return IdentifierCheck(value, kind, "format")
    if organisation_code_check_char(value[:8]) != value[8]:
        return IdentifierCheck(value, kind, "check_digit")
    return IdentifierCheck(value, kind)


def check_subject_identifier(text: str | None) -> IdentifierCheck:
    """Check what a record names an organisation by: a USCC or, in old rows, a legacy identifier.

    The normalised length decides: 15 characters are checked as a registration number, 9 as an
    organisation code, anything else as a USCC (so a mistyped USCC is reported as one).
    """
    value = normalise(text)
    if len(value) == 15:
        return check_registration_number(value)
    if len(value) == 9:
        return check_organisation_code(value)
    return check_uscc(value)


def make_registration_number(authority: str, sequence: str) -> str:
    """A valid registration number: six-digit authority code, eight digits, check digit."""
    body = authority + sequence
    return body + mod_11_10.calc_check_digit(body)


def make_uscc(authority_category: str, division: str, org_code_body: str) -> str:
    """Build a valid USCC from its parts, computing both check characters.

    ``authority_category`` is two characters (``91``), ``division`` six digits (``320281``),
    ``org_code_body`` the first eight characters of the organisation code.
    """
    org_code = org_code_body + organisation_code_check_char(org_code_body)
    body = authority_category + division + org_code
    return body + uscc.calc_check_digit(body)


def classify(text: str | None) -> IdentifierKind:
    """Guess what kind of identifier a source field holds, from its shape alone."""
    value = normalise(text)
    if len(value) == 18 and value[:17].isdigit() and check_resident_id(value).is_valid:
        return IdentifierKind.RESIDENT_ID
    if len(value) == 18:
        return IdentifierKind.USCC
    if len(value) == 15 and value.isdigit():
        return IdentifierKind.REGISTRATION_NUMBER
    if len(value) == 9:
        return IdentifierKind.ORGANISATION_CODE
    return IdentifierKind.UNKNOWN


def organisation_code_of(code: str) -> str:
    """The organisation code embedded in a USCC (positions 9-17), how legacy rows name it."""
    return normalise(code)[8:17]


def mask_resident_id(value: str) -> str:
    """Display form of a resident ID: the first and last four characters.

    ``32040219800101123X`` becomes ``3204**********123X``.
    """
    value = normalise(value)
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def hash_key() -> bytes:
    """The secret key for :func:`hash_identifier`, from ``CREDIT_ID_HASH_KEY``.

    Without it a fixed development key is used and a warning is logged every time, because
    hashes made with a public key can be reversed by enumerating the ID space.
    """
    key = os.environ.get(HASH_KEY_ENV)
    if key:
        return key.encode()
    log.warning(
        "%s is not set: personal IDs are hashed with the public DEVELOPMENT key. "
        "Set a secret key before loading real data.",
        HASH_KEY_ENV,
    )
    return DEVELOPMENT_HASH_KEY.encode()


def hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    """The inner and outer pads of an HMAC-SHA256 key (RFC 2104).

    The warehouse stores these instead of the key (``credit.warehouse``), so SQL can hash with
    two ``sha256`` calls: ``sha256(outer || sha256(inner || message))``.
    """
    block = hashlib.sha256(key).digest() if len(key) > 64 else key
    block = block.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block)


def hash_identifier(value: str, key: bytes | None = None) -> str:
    """Keyed hash (HMAC-SHA256, hex) of a normalised identifier: the pseudonymous subject key."""
    return hmac.new(key or hash_key(), normalise(value).encode(), hashlib.sha256).hexdigest()


def _alnum_value(char: str) -> int:
    return int(char) if char.isdigit() else ord(char) - ord("A") + 10

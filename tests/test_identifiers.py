"""Identifiers: USCC and resident-ID checks (python-stdnum), normalising, masking, hashing."""

from __future__ import annotations

import hashlib
import hmac
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import ric, uscc
from stdnum.iso7064 import mod_11_10

from credit import identifiers
from credit.identifiers import (
    IdentifierKind,
    check_organisation_code,
    check_registration_number,
    check_resident_id,
    check_subject_identifier,
    check_uscc,
    classify,
    hash_identifier,
    make_registration_number,
    make_uscc,
    mask_resident_id,
    normalise,
    organisation_code_check_char,
)

# Published codes of well-known companies, and a Jiangyin-shaped one built from its parts.
REAL_USCC = ["914403001922038216", "9144030071526726XG"]
ORG_BODY_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def _full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@pytest.mark.parametrize("code", REAL_USCC)
def test_real_codes_are_valid(code: str) -> None:
    assert check_uscc(code).is_valid
    assert uscc.is_valid(code)


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        ("", "missing"),
        (None, "missing"),
        ("91440300192203821", "length"),
        ("91440300192203821I", "format"),  # I is not in the alphabet
        ("9144A300192203821G", "format"),  # division must be digits
        ("99440300192203821G", "authority"),  # market regulation has no category 9
        ("914403001922038226", "organisation_code_check"),
        ("914403001922038217", "check_digit"),
    ],
)
def test_uscc_problems_are_named(code: str | None, problem: str) -> None:
    assert check_uscc(code).problem == problem


def test_pilot_codes_with_a_bad_check_digit_are_flagged_not_corrected() -> None:
    result = check_uscc("914403001922038217")
    assert result.value == "914403001922038217"
    assert not result.is_valid


@given(
    category=st.sampled_from(["91", "92", "93", "51", "52", "53", "12"]),
    body=st.text(ORG_BODY_CHARS, min_size=8, max_size=8),
)
def test_built_codes_pass_stdnum(category: str, body: str) -> None:
    code = make_uscc(category, "320281", body)
    assert uscc.validate(code) == code
    assert check_uscc(code).is_valid
    assert code.startswith(category + "320281")


@given(body=st.text(ORG_BODY_CHARS, min_size=8, max_size=8))
def test_organisation_code_check_char_is_in_alphabet(body: str) -> None:
    assert organisation_code_check_char(body) in "0123456789X"


def test_resident_ids() -> None:
    good = "11010519491231002X"
    assert ric.is_valid(good)
    assert check_resident_id(good).is_valid
    assert check_resident_id("110105194912310021").problem == "check_digit"
    assert check_resident_id("110105194913310021").problem == "birth_date"
    assert check_resident_id("1101051949123100").problem == "length"
    assert check_resident_id("11010519491231002Y").problem == "format"


@given(st.text(alphabet="0123456789ABCDEFGHJKLMNPQRTUWXY", min_size=1, max_size=20))
def test_normalise_undoes_full_width_spaces_and_case(code: str) -> None:
    messy = " " + _full_width(code.lower()) + "\u3000"
    assert normalise(messy) == code


@given(st.text())
def test_normalise_is_idempotent_and_total(text: str) -> None:
    once = normalise(text)
    assert normalise(once) == once
    assert not any(c.isspace() for c in once)


@given(st.text())
def test_checks_never_crash(text: str) -> None:
    for result in (check_uscc(text), check_resident_id(text)):
        assert result.is_valid or result.problem


def test_masking_keeps_only_the_ends() -> None:
    assert mask_resident_id("32040219800101123X") == "3204**********123X"
    assert mask_resident_id("３２０４０２１９８００１０１１２３ｘ") == "3204**********123X"


def test_classify() -> None:
    assert classify("11010519491231002X") is IdentifierKind.RESIDENT_ID
    assert classify(REAL_USCC[0]) is IdentifierKind.USCC
    assert classify("320281000123456") is IdentifierKind.REGISTRATION_NUMBER
    assert classify("19220382-1") is IdentifierKind.ORGANISATION_CODE
    assert classify("abc") is IdentifierKind.UNKNOWN


def test_hash_is_keyed_stable_and_normalised(monkeypatch) -> None:
    monkeypatch.setenv(identifiers.HASH_KEY_ENV, "secret-a")
    a = hash_identifier("11010519491231002X")
    assert a == hash_identifier(" 11010519491231002x ")
    assert len(a) == 64 and "11010519491231002X" not in a
    monkeypatch.setenv(identifiers.HASH_KEY_ENV, "secret-b")
    assert hash_identifier("11010519491231002X") != a


def test_default_key_warns_loudly(monkeypatch, caplog) -> None:
    monkeypatch.delenv(identifiers.HASH_KEY_ENV, raising=False)
    with caplog.at_level(logging.WARNING):
        hash_identifier("11010519491231002X")
    assert "DEVELOPMENT key" in caplog.text


@given(st.binary(max_size=200), st.binary(max_size=100))
def test_hmac_from_pads_is_hmac(key: bytes, message: bytes) -> None:
    inner, outer = identifiers.hmac_pads(key)
    from_pads = hashlib.sha256(outer + hashlib.sha256(inner + message).digest()).hexdigest()
    assert from_pads == hmac.new(key, message, hashlib.sha256).hexdigest()


# Legacy identifiers: a registration number as GS15-2006 builds it, and an organisation code.
LEGACY_NUMBER = make_registration_number("320281", "00012345")


def test_registration_numbers_carry_an_iso_7064_mod_11_10_check_digit() -> None:
    assert mod_11_10.is_valid(LEGACY_NUMBER)
    assert check_registration_number(LEGACY_NUMBER).is_valid
    assert check_registration_number(f" {LEGACY_NUMBER[:6]}-{LEGACY_NUMBER[6:]} ").is_valid


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "missing"),
        (LEGACY_NUMBER[:14], "length"),
        (LEGACY_NUMBER[:14] + "A", "format"),
        (LEGACY_NUMBER[:14] + str((int(LEGACY_NUMBER[14]) + 1) % 10), "check_digit"),
    ],
)
def test_registration_number_problems_are_named(text: str, problem: str) -> None:
    assert check_registration_number(text).problem == problem


def test_organisation_codes_are_checked_as_inside_a_uscc() -> None:
    code = REAL_USCC[0][8:17]
    assert check_organisation_code(code).is_valid
    assert check_organisation_code(code[:8] + ("0" if code[8] != "0" else "1")).problem == (
        "check_digit"
    )
    assert check_organisation_code(code[:8]).problem == "length"
    assert (
        check_organisation_code("1922038-2").is_valid
        == check_organisation_code("19220382").is_valid
    )


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (REAL_USCC[0], IdentifierKind.USCC),
        (LEGACY_NUMBER, IdentifierKind.REGISTRATION_NUMBER),
        (REAL_USCC[0][8:17], IdentifierKind.ORGANISATION_CODE),
        ("9144030019220382", IdentifierKind.USCC),  # a mistyped USCC stays one
    ],
)
def test_a_subject_identifier_is_checked_by_its_length(text: str, kind: IdentifierKind) -> None:
    result = check_subject_identifier(text)
    assert result.kind is kind
    assert result.is_valid == (kind is not IdentifierKind.USCC or text == REAL_USCC[0])

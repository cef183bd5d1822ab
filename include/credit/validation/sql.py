"""SQL the validation step (数据校验) installs in the warehouse and the patterns it checks with.

The identifier functions repeat :mod:`credit.identifiers` in PL/pgSQL so that the check runs as
push-down SQL on the landed batch; ``tests/test_validation.py`` holds them to the Python rules
(hypothesis).  They agree on validity for every text.  They also name the same problem, except
for text whose Python upper-casing changes its length (``ß`` -> ``SS``): SQL upper-cases ASCII
letters only, which cannot turn an invalid code valid.
The text patterns are plain regular expressions that PostgreSQL and Python read alike.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable

import psycopg
from psycopg import sql

from credit.identifiers import ORG_CODE_ALPHABET, ORG_CODE_WEIGHTS, USCC_ALPHABET, USCC_CATEGORIES

# Python's ``\s`` (unicode whitespace), spelled out because PostgreSQL's ``\s`` depends on locale.
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + "\u2028\u2029\u202f\u205f\u3000"
)
# The separators credit.identifiers.normalise drops: whitespace, hyphen, underscore, dot, slash, ·.
SEPARATORS = WHITESPACE + "_./·-"


def char_class(chars: str) -> str:
    """A bracket expression of ``chars`` written as ``\\uXXXX`` escapes (PostgreSQL ARE syntax)."""
    return "[" + "".join(f"\\u{ord(c):04x}" for c in chars) + "]"


BLANK_PATTERN = f"^{char_class(WHITESPACE)}*$"
# The codes (``ascii``: of the first character) a blank text can start with: whitespace, and 0
# for the empty text.  Text starting with any other character is not blank and needs no regular
# expression: that is nearly all text.
BLANK_FIRST_CODES = tuple(sorted({0, *map(ord, WHITESPACE)}))


def blank_as_null(column: sql.Composable) -> sql.Composed:
    """SQL: ``column`` itself, or NULL when it is blank (:data:`BLANK_PATTERN`).

    The regular expression costs ten times a look at the first character, so only text that
    starts with whitespace, or is empty, goes through it.  The look is one ``ascii`` and one
    ``not in`` of constants (PostgreSQL hashes the list): half what two ranges of ``ascii``
    cost, each written out twice by ``between``.
    """
    return sql.SQL(
        "case when ascii({c}) not in ({codes}) then {c} when {c} ~ {blank} then null else {c} end"
    ).format(
        c=column,
        codes=sql.SQL(", ").join(map(sql.Literal, BLANK_FIRST_CODES)),
        blank=sql.Literal(BLANK_PATTERN),
    )


# ISO 8601 calendar dates 1000-01-01 .. 2999-12-31, leap years included, so every value that
# matches also casts with ``::date`` in dbt staging.  The patterns define the date and
# timestamp rules; validation tests them with ``audit.is_iso_date`` / ``audit.is_iso_timestamp``
# (below), which accept exactly the same texts (a hypothesis test holds them together).
_YEAR = "[12][0-9]{3}"
_LEAP_YEAR = "(?:[12][0-9](?:0[48]|[2468][048]|[13579][26])|(?:1[26]|2[048])00)"
_MONTH_DAY = (
    "(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    "|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    "|02-(?:0[1-9]|1[0-9]|2[0-8]))"
)
_DATE = f"(?:{_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"
_TIME = "(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:[.][0-9]{1,6})?)?"
_ZONE = "(?:Z|[+-](?:[01][0-9]|2[0-3])(?::?[0-5][0-9])?)?"
DATE_PATTERN = f"^{_DATE}$"
TIMESTAMP_PATTERN = f"^{_DATE}[T ]{_TIME}{_ZONE}$"
DECIMAL_PATTERN = "^-?[0-9]+(?:[.][0-9]+)?$"
INT_PATTERN = "^-?[0-9]{1,9}$"
NEGATIVE_PATTERN = "^-"
# Normal form of an identifier: half-width capitals and digits, no spaces or separators.
IDENTIFIER_NORMAL_PATTERN = "^[0-9A-Z]+$"
TYPE_PATTERNS = {
    "decimal": DECIMAL_PATTERN,
    "int": INT_PATTERN,
}


def _text_array(values: Iterable[str]) -> str:
    """A constant ``text[]``; PostgreSQL hashes ``= any`` of it when it has nine or more."""
    return "'{" + ",".join(f'"{value}"' for value in values) + "}'::text[]"


# The date and timestamp patterns without a regular expression (a regular expression costs
# PostgreSQL about 0.1 us a character: its automaton is built for every value), two ways that
# accept the same texts (iso_text_functions() picks one for the server).
#
# By lists: each part, a fixed number of ASCII characters at a fixed place, looked up in a
# constant list PostgreSQL hashes (the year with its hyphen, the month and day, the hour and
# minute, the seconds, the zone).
_ISO_YEARS = _text_array(f"{year}-" for year in range(1000, 3000))
_ISO_LEAP_YEARS = _text_array(str(year) for year in range(1000, 3000) if calendar.isleap(year))
_ISO_MONTH_DAYS = _text_array(
    f"{month:02d}-{day:02d}"
    for month in range(1, 13)
    for day in range(1, calendar.monthrange(2000, month)[1] + 1)
)
_ISO_MINUTES = _text_array(f"{hour:02d}:{minute:02d}" for hour in range(24) for minute in range(60))
_ISO_SECONDS = _text_array(f":{second:02d}" for second in range(60))
_ISO_ZONES = _text_array(
    ["", "Z"]
    + [
        f"{sign}{hour:02d}{minutes}"
        for sign in "+-"
        for hour in range(24)
        for minutes in ["", *(f"{sep}{minute:02d}" for sep in ("", ":") for minute in range(60))]
    ]
)
_ISO_TEXT_BY_LISTS = f"""
-- DATE_PATTERN without a regular expression: 'YYYY-' and 'MM-DD' listed, 29 February of leap
-- years only.
create or replace function {{schema}}.is_iso_date(value text) returns boolean
language sql immutable parallel safe as $$
    select octet_length(value) = 10
        and left(value, 5) = any({_ISO_YEARS})
        and right(value, 5) = any({_ISO_MONTH_DAYS})
        and (right(value, 5) <> '02-29' or left(value, 4) = any({_ISO_LEAP_YEARS}))
$$;

-- What may follow a timestamp's seconds: a fraction of one to six digits, then the zone.
create or replace function {{schema}}.iso_fraction_zone_is_valid(tail text) returns boolean
language sql immutable parallel safe as $$
    select case left(tail, 1)
        when '.' then
            octet_length(tail) - octet_length(ltrim(substr(tail, 2), '0123456789')) between 2 and 7
            and ltrim(substr(tail, 2), '0123456789') = any({_ISO_ZONES})
        else tail = any({_ISO_ZONES})
    end
$$;

-- What may follow a timestamp's hour and minute: seconds (and a fraction), then the zone.
create or replace function {{schema}}.iso_time_tail_is_valid(tail text) returns boolean
language sql immutable parallel safe as $$
    select case left(tail, 1)
        when ':' then
            left(tail, 3) = any({_ISO_SECONDS})
            and {{schema}}.iso_fraction_zone_is_valid(substr(tail, 4))
        else tail = any({_ISO_ZONES})
    end
$$;

-- TIMESTAMP_PATTERN without a regular expression: the date as in {{schema}}.is_iso_date, 'T' or a
-- space, 'HH:MM' listed, then {{schema}}.iso_time_tail_is_valid.
create or replace function {{schema}}.is_iso_timestamp(value text) returns boolean
language sql immutable parallel safe as $$
    select octet_length(value) between 16 and 32
        and left(value, 5) = any({_ISO_YEARS})
        and substr(value, 6, 5) = any({_ISO_MONTH_DAYS})
        and (substr(value, 6, 5) <> '02-29' or left(value, 4) = any({_ISO_LEAP_YEARS}))
        and substr(value, 11, 1) in ('T', ' ')
        and substr(value, 12, 5) = any({_ISO_MINUTES})
        and {{schema}}.iso_time_tail_is_valid(substr(value, 17))
$$;
"""


# By arithmetic: the text's shape in one translate (each ASCII digit made '0', compared with
# the shapes allowed), then its numbers as two-digit texts compared with their bounds (the year
# cast only for a 29 February).
_ISO_TEXT_BY_ARITHMETIC = """
-- A day 1000-01-01 .. 2999-12-31 of the Gregorian calendar, from the digits of its year,
-- month and day.
create or replace function {schema}.iso_day_is_valid(y text, m text, d text) returns boolean
language sql immutable parallel safe as $$
    select left(y, 1) in ('1', '2')
        and m between '01' and '12'
        and d between '01' and case
            when m = '02' then '29'
            when m in ('04', '06', '09', '11') then '30'
            else '31'
        end
        and case
            when m = '02' and d = '29'
                then y::integer % 4 = 0 and (y::integer % 100 <> 0 or y::integer % 400 = 0)
            else true
        end
$$;

-- DATE_PATTERN: 'YYYY-MM-DD' in ASCII digits, a day of the calendar.
create or replace function {schema}.is_iso_date(value text) returns boolean
language sql immutable parallel safe as $$
    select case
        when value is null then null
        when translate(value, '0123456789', '0000000000') <> '0000-00-00' then false
        else {schema}.iso_day_is_valid(left(value, 4), substr(value, 6, 2), right(value, 2))
    end
$$;

-- A zone: none, 'Z', or a sign and the hour 00-23 as 'HH', 'HHMM' or 'HH:MM'.
create or replace function {schema}.iso_zone_is_valid(zone text) returns boolean
language sql immutable parallel safe as $$
    select case
        when zone in ('', 'Z') then true
        when translate(zone, '0123456789', '0000000000')
            not in ('+00', '-00', '+0000', '-0000', '+00:00', '-00:00')
            then false
        else substr(zone, 2, 2) <= '23' and (octet_length(zone) = 3 or right(zone, 2) <= '59')
    end
$$;

-- What may follow a timestamp's seconds: a fraction of one to six digits, then the zone.
create or replace function {schema}.iso_fraction_zone_is_valid(tail text) returns boolean
language sql immutable parallel safe as $$
    select case
        when left(tail, 1) <> '.' then {schema}.iso_zone_is_valid(tail)
        else
            octet_length(tail) - octet_length(ltrim(substr(tail, 2), '0123456789')) between 2 and 7
            and {schema}.iso_zone_is_valid(ltrim(substr(tail, 2), '0123456789'))
    end
$$;

-- What may follow a timestamp's hour and minute: seconds 00-59 (and a fraction), then the zone.
create or replace function {schema}.iso_time_tail_is_valid(tail text) returns boolean
language sql immutable parallel safe as $$
    select case
        when left(tail, 1) <> ':' then {schema}.iso_zone_is_valid(tail)
        when translate(left(tail, 3), '0123456789', '0000000000') <> ':00' then false
        when substr(tail, 2, 2) > '59' then false
        else {schema}.iso_fraction_zone_is_valid(substr(tail, 4))
    end
$$;

-- TIMESTAMP_PATTERN: the date as in {schema}.is_iso_date, 'T' or a space, the hour 00-23 and
-- minute 00-59 as 'HH:MM', then {schema}.iso_time_tail_is_valid.
create or replace function {schema}.is_iso_timestamp(value text) returns boolean
language sql immutable parallel safe as $$
    select case
        when value is null then null
        when octet_length(value) not between 16 and 32 then false
        when translate(left(value, 16), '0123456789', '0000000000')
            not in ('0000-00-00T00:00', '0000-00-00 00:00')
            then false
        when substr(value, 12, 2) > '23' or substr(value, 15, 2) > '59' then false
        when not {schema}.iso_day_is_valid(left(value, 4), substr(value, 6, 2), substr(value, 9, 2))
            then false
        else {schema}.iso_time_tail_is_valid(substr(value, 17))
    end
$$;
"""

_AUTHORITY_CATEGORIES = ", ".join(
    f"'{authority}{category}'"
    for authority, categories in USCC_CATEGORIES.items()
    for category in categories
)

# The USCC check digit's weights (3^i mod 31), as stdnum.cn.uscc computes them.
_USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
# GB 11643: the weight of digit i (1-17) is 2^(18 - i) mod 11; the check character is indexed
# by the weighted sum mod 11.
_RESIDENT_ID_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
_RESIDENT_ID_CHECK_CHARS = "10X98765432"
_ORG_CODE_CHECK_CHARS = "0123456789X0"
_DIGITS = "0123456789"
# Days of each month in a year that is not a leap year: 29 February is left to the full check.
_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
# A birth date's month and day (MMDD, 0000-9999) as month * 33 + min(day, 32): 1 when the day
# exists in every year, 0 when in none, 2 for 29 February (the full check knows the year).
_BIRTH_DAYS = bytes(
    2 if (month, day) == (2, 29) else int(0 < month < 13 and 0 < day <= _DAYS_IN_MONTH[month - 1])
    for month in range(100)
    for day in range(33)
)


def _bytea(values: bytes) -> str:
    return "'\\x" + values.hex() + "'::bytea"


def _byte(position: int) -> str:
    """SQL: the byte at 0-based ``position`` of ``code``, the text as ``bytea`` (a lookup, where
    reading a character of a text walks the text up to it)."""
    return f"get_byte(code, {position})"


def _values(alphabet: str) -> str:
    """SQL bytea that maps an ASCII code to its character's position in ``alphabet``."""
    return _bytea(bytes(alphabet.index(chr(c)) if chr(c) in alphabet else 255 for c in range(128)))


def _only(chars: str, part: str) -> str:
    """SQL: every byte of the ``bytea`` ``part`` is one of ``chars`` (ASCII)."""
    return f"octet_length(ltrim({part}, {_bytea(chars.encode())})) = 0"


def _weighted_sum(alphabet: str, weights: tuple[int, ...], start: int = 0) -> str:
    """SQL: the sum of (position in ``alphabet`` of each byte of ``code`` from 0-based
    ``start``) x its weight."""
    values = _values(alphabet)
    return " + ".join(
        f"get_byte({values}, {_byte(start + i)}) * {weight}" for i, weight in enumerate(weights)
    )


def _digits(positions: range, weights: tuple[int, ...]) -> str:
    """SQL: the sum of the digits of ``code`` at 0-based ``positions`` x their weights, read as
    bytes (ASCII digits: 48 less than their byte)."""
    terms = " + ".join(f"{_byte(p)} * {w}" for p, w in zip(positions, weights, strict=True))
    return f"({terms} - {48 * sum(weights)})"


def _fast_validity(name: str, shape: str, fast_check: str, full_check: str) -> str:
    """A validity function whose common case costs one ``bytea`` copy and byte lookups.

    Text of 18 ASCII characters already in normal form with the shape of a valid code (most of
    what sources send) is checked by its check characters, read as the bytes of one ``bytea``
    copy (``code``): a byte is a constant-time lookup, where each ``substr`` of a text walks the
    UTF-8 text up to its character, and a trim or regular expression of a text costs more than
    the whole sum.  Anything else goes to the full PL/pgSQL check, which normalises and names
    the problem.  The outer SQL function is inlined into the query and makes the copy (only of
    text without a backslash, which ``bytea`` input reads as an escape); the copy is used many
    times, so the checks are one PL/pgSQL ``return`` that reads it as a variable.  Both give the
    same answer: ``tests/test_validation.py``.
    """
    return f"""
create or replace function audit.{name}_bytes(code bytea, raw text) returns boolean
language plpgsql immutable parallel safe as $$
begin
    return case when {shape} then {fast_check} else {full_check} end;
end $$;

create or replace function audit.{name}(raw text) returns boolean
language sql immutable parallel safe as $$
    select case
        when raw is null then false
        when octet_length(raw) = 18 and strpos(raw, '\\') = 0
        then audit.{name}_bytes(raw::bytea, raw)
        else {full_check}
    end
$$;
"""


_USCC_SHAPE = (
    f"{_only(USCC_ALPHABET, 'code')}"
    f" and {_only(_DIGITS, 'substring(code from 3 for 6)')}"
    f" and left(raw, 2) in ({_AUTHORITY_CATEGORIES})"
)
_USCC_FAST = (
    f"get_byte({_bytea(_ORG_CODE_CHECK_CHARS.encode())},"
    f" 11 - ({_weighted_sum(ORG_CODE_ALPHABET, ORG_CODE_WEIGHTS, start=8)}) % 11) = {_byte(16)}"
    f" and get_byte({_values(USCC_ALPHABET)}, {_byte(17)})"
    f" = (31 - ({_weighted_sum(USCC_ALPHABET, _USCC_WEIGHTS)}) % 31) % 31"
)
# Digits, a check character, and a birth date (YYYYMMDD) of 1900-2099 that exists in any year.
_RESIDENT_ID_SHAPE = (
    f"{_only(_DIGITS, 'substring(code from 1 for 17)')}"
    f" and {_only(_DIGITS + 'X', 'substring(code from 18)')}"
    " and substring(code from 7 for 2) in ('19'::bytea, '20'::bytea)"
)
_BIRTH_MONTH, _BIRTH_DAY = _digits(range(10, 12), (10, 1)), _digits(range(12, 14), (10, 1))
_MONTH_DAY = f"{_BIRTH_MONTH} * 33 + least({_BIRTH_DAY}, 32)"
_RESIDENT_ID_FAST = f"""case get_byte({_bytea(_BIRTH_DAYS)}, {_MONTH_DAY})
            when 1 then get_byte({_bytea(_RESIDENT_ID_CHECK_CHARS.encode())},
                {_digits(range(17), _RESIDENT_ID_WEIGHTS)} % 11) = {_byte(17)}
            when 0 then false
            else audit.resident_id_problem(raw) is null
        end"""
VALIDITY_FUNCTIONS = (
    _fast_validity("uscc_is_valid", _USCC_SHAPE, _USCC_FAST, "audit.uscc_problem(raw) is null")
    + _fast_validity(
        "resident_id_is_valid",
        _RESIDENT_ID_SHAPE,
        _RESIDENT_ID_FAST,
        "audit.resident_id_problem(raw) is null",
    )
    + _fast_validity(
        "subject_identifier_is_valid",
        _USCC_SHAPE,
        _USCC_FAST,
        "audit.subject_identifier_problem(raw) is null",
    )
    + """
create or replace function audit.registration_number_is_valid(raw text) returns boolean
language sql immutable parallel safe as $$
    select audit.registration_number_problem(raw) is null
$$;
"""
)

# audit.normalise_identifier_fully, but a text of ASCII digits and capitals alone (nearly every
# identifier a department sends) is its own normal form: tested by translate() in an SQL function
# the planner inlines, 0.9 us a call against 6.5 us for the PL/pgSQL loop (staging calls it for
# every identifier column of every row).
NORMALISE_IDENTIFIER_DDL = """
create or replace function audit.normalise_identifier(value text) returns text
language sql immutable parallel safe as $$
    select case
        when translate(value, '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ', '') = '' then value
        else audit.normalise_identifier_fully(value)
    end
$$;
"""

FUNCTIONS_DDL = rf"""
create or replace function audit.normalise_identifier_fully(value text) returns text
language plpgsql immutable parallel safe as $$
declare
    previous text;
begin
    -- credit.identifiers.normalise: NFKC, drop separators, upper case, until nothing changes.
    -- Only ASCII letters are upper-cased: no other upper-casing can make a valid code.
    if value is null then
        return '';
    end if;
    loop
        previous := value;
        value := translate(
            regexp_replace(normalize(value, NFKC), '{char_class(SEPARATORS)}', '', 'g'),
            'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ');
        exit when value = previous;
    end loop;
    return value;
end $$;

{NORMALISE_IDENTIFIER_DDL}
create or replace function audit.organisation_code_problem(raw text) returns text
language plpgsql immutable parallel safe as $$
declare
    v text := audit.normalise_identifier(raw);
    weights constant int[] := array[3, 7, 9, 10, 5, 8, 4, 2];
    total int := 0;
    remainder int;
    ch text;
begin
    -- credit.identifiers.check_organisation_code: the same problems in the same order.
    if v = '' then return 'missing'; end if;
    if length(v) <> 9 then return 'length'; end if;
    if substr(v, 1, 8) !~ '^[0-9A-Z]{{8}}$' then return 'format'; end if;
    for i in 1..8 loop
        ch := substr(v, i, 1);
        total := total + (case when ch ~ '[0-9]' then ascii(ch) - 48 else ascii(ch) - 55 end)
                         * weights[i];
    end loop;
    remainder := 11 - total % 11;
    -- (a CASE inside IF would end the condition at its first THEN in PL/pgSQL)
    ch := case remainder when 10 then 'X' when 11 then '0' else remainder::text end;
    if substr(v, 9, 1) <> ch then return 'check_digit'; end if;
    return null;
end $$;

create or replace function audit.registration_number_problem(raw text) returns text
language plpgsql immutable parallel safe as $$
declare
    v text := audit.normalise_identifier(raw);
    checksum int := 5;
begin
    -- credit.identifiers.check_registration_number: the same problems in the same order.
    if v = '' then return 'missing'; end if;
    if length(v) <> 15 then return 'length'; end if;
    if v !~ '^[0-9]{{15}}$' then return 'format'; end if;
    -- ISO 7064 MOD 11,10 as stdnum.iso7064.mod_11_10 computes it: valid when it ends at 1.
    for i in 1..15 loop
        checksum := ((case checksum when 0 then 10 else checksum end) * 2 % 11
                     + ascii(substr(v, i, 1)) - 48) % 10;
    end loop;
    if checksum <> 1 then return 'check_digit'; end if;
    return null;
end $$;

create or replace function audit.uscc_problem(raw text) returns text
language plpgsql immutable parallel safe as $$
declare
    v text := audit.normalise_identifier(raw);
    alphabet constant text := '0123456789ABCDEFGHJKLMNPQRTUWXY';
    weights constant int[] := array[1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10,
                                    30, 28];
    total int := 0;
begin
    -- credit.identifiers.check_uscc: the same problems in the same order.
    if v = '' then return 'missing'; end if;
    if length(v) <> 18 then return 'length'; end if;
    if v !~ '^[0-9A-HJ-NP-RTUWXY]{{18}}$' or substr(v, 3, 6) !~ '^[0-9]{{6}}$' then
        return 'format';
    end if;
    if substr(v, 1, 2) not in ({_AUTHORITY_CATEGORIES}) then return 'authority'; end if;
    if audit.organisation_code_problem(substr(v, 9, 9)) is not null then
        return 'organisation_code_check';
    end if;
    for i in 1..17 loop
        total := total + (strpos(alphabet, substr(v, i, 1)) - 1) * weights[i];
    end loop;
    if substr(alphabet, (31 - total % 31) % 31 + 1, 1) <> substr(v, 18, 1) then
        return 'check_digit';
    end if;
    return null;
end $$;

-- credit.identifiers.check_subject_identifier: a USCC, or a legacy identifier by its length.
create or replace function audit.subject_identifier_problem(raw text) returns text
language plpgsql immutable parallel safe as $$
begin
    return case length(audit.normalise_identifier(raw))
        when 15 then audit.registration_number_problem(raw)
        when 9 then audit.organisation_code_problem(raw)
        else audit.uscc_problem(raw)
    end;
end $$;

create or replace function audit.resident_id_problem(raw text) returns text
language plpgsql immutable parallel safe as $$
declare
    v text := audit.normalise_identifier(raw);
    y int;
    m int;
    d int;
    total int := 0;
    checksum int;
    expected text;
begin
    -- credit.identifiers.check_resident_id: the same problems in the same order.
    if v = '' then return 'missing'; end if;
    if length(v) <> 18 then return 'length'; end if;
    if v !~ '^[0-9]{{17}}[0-9X]$' then return 'format'; end if;
    y := substr(v, 7, 4)::int;
    m := substr(v, 11, 2)::int;
    d := substr(v, 13, 2)::int;
    -- Two steps: make_date must not see a month that does not exist.
    if y < 1 or m not between 1 and 12 then return 'birth_date'; end if;
    if d < 1 or d > extract(day from make_date(y, m, 1) + interval '1 month' - interval '1 day')
    then
        return 'birth_date';
    end if;
    -- stdnum.cn.ric: (1 - 2 * int(first 17 digits, base 13)) mod 11, and 13 = 2 (mod 11).
    for i in 1..17 loop
        total := (total * 2 + ascii(substr(v, i, 1)) - 48) % 11;
    end loop;
    checksum := ((1 - 2 * total) % 11 + 11) % 11;
    expected := case checksum when 10 then 'X' else checksum::text end;
    if substr(v, 18, 1) <> expected then
        return 'check_digit';
    end if;
    return null;
end $$;

{VALIDITY_FUNCTIONS}
"""

# After the ISO text functions, which they read.
ISO_CASTS_DDL = """
-- Casts that cannot fail: NULL unless the text has the exact ISO form validation accepts.
-- The date from its parts, not by ::date: that cast is only stable (it reads DateStyle), and an
-- immutable function whose body is not is never inlined, so each call ran audit.is_iso_date as
-- a query of its own, building its lists' hash tables again (33 us a call against 1.3 us;
-- staging the five-year history called it millions of times).
create or replace function audit.iso_date(value text) returns date
language sql immutable parallel safe as $$
    select case when audit.is_iso_date(value) then make_date(
        left(value, 4)::integer, substr(value, 6, 2)::integer, right(value, 2)::integer
    ) end
$$;

create or replace function audit.iso_timestamp(value text) returns timestamptz
language sql stable parallel safe as $$
    select case when audit.is_iso_timestamp(value) then value::timestamptz end
$$;
"""


def install_validation_sql(conn: psycopg.Connection) -> None:
    """Create (or replace) the identifier and text functions validation and staging share.

    They are this module's rules in SQL, so they are installed from the code that runs, like
    the dbt models; the tables validation writes are the warehouse's (:mod:`credit.migrations`).
    """
    # A lock: concurrent ``create or replace function`` calls from parallel tasks would collide.
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtext('credit.validation.install'))")
        conn.execute(FUNCTIONS_DDL)
        conn.execute(iso_text_functions(conn.info.server_version))
        conn.execute(ISO_CASTS_DDL)


def iso_text_functions(server_version: int, schema: str = "audit") -> str:
    """The DDL of ``audit.is_iso_date`` and ``audit.is_iso_timestamp`` (in ``schema``) for a
    server of ``server_version`` (``server_version_num``): by arithmetic on PostgreSQL 16, which
    hashes only the first constant list of a query and searched the others element by element
    (the embedded 16.2: 30 us a timestamp against 3.5 us by arithmetic), by lists elsewhere
    (PostgreSQL 15 hashes them all: 1.3 us against 3.5 us)."""
    ddl = _ISO_TEXT_BY_ARITHMETIC if server_version // 10000 == 16 else _ISO_TEXT_BY_LISTS
    return ddl.replace("{schema}", schema)

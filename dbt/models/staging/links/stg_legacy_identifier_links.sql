{#- 旧标识对照 Legacy identifiers linked to USCCs by the register: the 15-digit registration number
    (工商注册号) a registration record carries, and the organisation code (组织机构代码) inside
    every registered USCC (positions 9-17). Rows of other kinds that name a subject by either
    are mapped through this model; the latest registration wins if two USCCs claim one. Only
    the registrations landed by the as-of night link (known_latest()): a night's own build has
    them all, and a past day rebuilt from scratch (credit warehouse as-of) stages the rows a
    later registration linked under the legacy identifier they had that night.
    Indexed by legacy_identifier: a night looks up its few rows' identifiers in it. -#}
{{ config(indexes=[{'columns': ['legacy_identifier'], 'unique': True}]) }}

with

-- Only the columns used: every staging model of a kind naming a subject joins this one, and the
-- registrations' other columns include the legal representative's hashed ID (costly per row).
registrations as (

    select
        uscc,
        registration_number,
        event_date,
        raw_row_id
    from ({{ known_latest(ref('stg_raw__registrations')) }}) as known
    where change_type_code <> 'revoke'

),

links as (

    select
        registration_number as legacy_identifier,
        'registration_number' as identifier_kind,
        uscc,
        event_date,
        raw_row_id
    from registrations
    where registration_number is not null

    union all

    select
        substr(uscc, 9, 9) as legacy_identifier,
        'organisation_code' as identifier_kind,
        uscc,
        event_date,
        raw_row_id
    from registrations

),

ranked as (

    select
        *,
        row_number() over (
            partition by legacy_identifier
            order by event_date desc, raw_row_id desc
        ) as recency
    from links

),

final as (

    select
        legacy_identifier,
        identifier_kind,
        uscc
    from ranked
    where recency = 1

)

select * from final

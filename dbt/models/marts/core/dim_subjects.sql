{#- One row per credit subject (信用主体). Registrations are authoritative: a registered
    subject's attributes come from its latest registration event that was not revoked; any other
    subject takes them from the latest record naming it.

    Incremental: a night rebuilds the subjects int_subjects_changed names (those of the batches
    staged since the last build, and legacy identifiers now linked), from all their records;
    the pre-hook deletes their rows first, the post-hook records the batches taken in
    (macros/subjects/subject_state.sql). Up to `subjects_read_by_index` subjects (default
    5,000: an ordinary night's few thousand), their rows are read by the staging tables'
    subject_key indexes; more (a catch-up), the staging tables are read whole and joined. -#}

-- depends_on: {{ ref('int_subjects_changed') }}
-- depends_on: {{ ref('int_subject_batches') }}
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ prune_subjects() }}",
        post_hook="{{ store_subject_state() }}",
    )
}}
{#- The night's subjects, when they are few, as an array: each staging table of the union is
    read by its subject_key index (as a subquery, every row of every staging table was read and
    hashed: 3.5 s of a night after five years at Jiangyin's size, 1.0 s this way). An array is
    estimated at a row or two whatever its length, so what is read from it is joined by nested
    loops: a catch-up's hundreds of thousands of subjects made them quadratic (the four years
    after the first of a Jiangyin-sized county did not end in 15 minutes), and many subjects are
    joined as a subquery (12 s for those four years). -#}
{%- set by_index = false -%}
{%- if is_incremental() and execute -%}
    {%- set by_index = run_query(
        "select count(*) <= " ~ var('subjects_read_by_index', 5000)
        ~ " from " ~ ref('int_subjects_changed')
    ).rows[0][0] -%}
{%- endif -%}
{%- set changed_subjects =
    "select changed.subject_key from " ~ ref('int_subjects_changed') ~ " as changed"
-%}
{%- set night_subjects =
    "= any(array(" ~ changed_subjects ~ "))" if by_index else "in (" ~ changed_subjects ~ ")"
-%}

with

mentions as (

    select * from {{ ref('int_subjects_unioned') }}
    where
        subject_key is not null
        {%- if is_incremental() %}
            and subject_key {{ night_subjects }}
        {%- endif %}

),

registrations as (

    select * from ({{ known_latest(ref('stg_raw__registrations')) }}) as known
    where
        change_type_code <> 'revoke'
        {%- if is_incremental() %}
            and subject_key {{ night_subjects }}
        {%- endif %}

),

divisions as (

    select * from {{ ref('jiangyin_divisions') }}

),

-- A night's: computed once. Estimated from the array at a row or two, it was joined by a nested
-- loop that ranked the registrations again for every subject.
latest_registration as {% if by_index %}materialized {% endif %}(

    select
        *,
        row_number() over (
            partition by subject_key
            order by event_date desc, updated_at desc, raw_row_id desc
        ) as recency
    from registrations

),

latest_mention as (

    select
        *,
        row_number() over (
            partition by subject_key
            order by updated_at desc, raw_row_id desc, record_kind asc
        ) as recency
    from mentions

),

seen as (

    select
        subject_key,
        min(record_date) as first_seen_date,
        max(record_date) as last_seen_date,
        count(*) as record_versions
    from mentions
    group by subject_key

),

final as (

    select
        seen.subject_key::text as subject_key,
        coalesce(
            case
                when registered.subject_category = '个体工商户' then 'individual_business'
                when registered.subject_key is not null then 'organisation'
            end,
            mention.subject_kind
        )::text as subject_kind,
        coalesce(registered.uscc, mention.uscc)::text as uscc,
        substr(coalesce(registered.uscc, mention.uscc), 9, 9)::text as organisation_code,
        registered.registration_number::text as registration_number,
        case
            when mention.subject_kind <> 'natural_person' and mention.uscc is null
                then seen.subject_key
        end::text as legacy_identifier,
        coalesce(registered.subject_name, mention.subject_name)::text as subject_name,
        registered.subject_category::text as subject_category,
        coalesce(registered.legal_rep, mention.legal_rep)::text as legal_rep,
        coalesce(
            registered.legal_rep_id_number_masked, mention.legal_rep_id_number_masked
        )::text as legal_rep_id_number_masked,
        coalesce(
            registered.legal_rep_id_number_hash, mention.legal_rep_id_number_hash
        )::text as legal_rep_id_number_hash,
        mention.id_number_masked::text as id_number_masked,
        mention.id_number_hash::text as id_number_hash,
        registered.industry_code::text as industry_code,
        registered.division_code::text as division_code,
        divisions.name_zh::text as division_name,
        registered.status::text as status,
        registered.established_date::date as established_date,
        registered.registered_capital::numeric as registered_capital,
        (registered.subject_key is not null)::boolean as is_registered,
        seen.first_seen_date::date as first_seen_date,
        seen.last_seen_date::date as last_seen_date,
        seen.record_versions::bigint as record_versions
    from seen
    inner join latest_mention as mention
        on seen.subject_key = mention.subject_key and mention.recency = 1
    left join latest_registration as registered
        on seen.subject_key = registered.subject_key and registered.recency = 1
    left join divisions on registered.division_code = divisions.division_code

)

select * from final

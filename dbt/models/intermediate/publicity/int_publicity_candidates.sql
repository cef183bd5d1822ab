{#- Every record the credit portal may publish (公示), as known on the as-of date
    (int_lifecycle_as_of): the latest known version of each permit and penalty (双公示) and each
    dishonesty record (fct_dishonesty_records), with its publicity period and, when a change
    ended it early, the change and its day. The status and the withdrawal deadline are
    fct_publicity_records'. -#}
{%- set county_timezone = var('county_timezone', 'Asia/Shanghai') -%}

with

as_of as (

    select * from {{ ref('int_lifecycle_as_of') }}

),

permit_versions as (

    select * from {{ ref('stg_raw__permits') }}

),

penalty_versions as (

    select * from {{ ref('stg_raw__penalties') }}

),

dishonesty_records as (

    select * from {{ ref('fct_dishonesty_records') }}

),

publicity_rules as (

    select * from {{ ref('publicity_rules') }}

),

penalty_tiers as (

    select * from {{ ref('penalty_publicity_tiers') }}

),

known_permits as (

    select
        permit_versions.*,
        (permit_versions.updated_at at time zone '{{ county_timezone }}')::date as known_date,
        row_number() over (
            partition by permit_versions.record_key
            order by permit_versions.updated_at desc, permit_versions.raw_row_id desc
        ) as known_rank
    from permit_versions
    cross join as_of
    where
        {{ known_on_as_of('permit_versions') }}
        and permit_versions.decision_date <= as_of.as_of_date

),

known_penalties as (

    select
        penalty_versions.*,
        (penalty_versions.updated_at at time zone '{{ county_timezone }}')::date as known_date,
        row_number() over (
            partition by penalty_versions.record_key
            order by penalty_versions.updated_at desc, penalty_versions.raw_row_id desc
        ) as known_rank
    from penalty_versions
    cross join as_of
    where
        {{ known_on_as_of('penalty_versions') }}
        and penalty_versions.decision_date <= as_of.as_of_date

),

permits as (

    -- Published while in force: from the decision to the last day of validity (有效期至), and
    -- only while its status is 有效 (a permit sent as 无效 is no longer in force).
    select
        'permit' as record_kind,
        record_key,
        dept_code,
        permit_doc_no as doc_no,
        subject_key,
        subject_name,
        subject_type_code,
        permit_category as category,
        permit_content as content,
        decision_date,
        null as severity_code,
        true as published_in_principle,
        decision_date as publicity_start,
        valid_to + 1 as publicity_end,
        'validity' as publicity_end_basis,
        permit_status = '有效' as in_force,
        false as under_objection,
        case when change_type_code = 'revoke' then 'revocation' end as withdrawal_reason_code,
        case when change_type_code = 'revoke' then known_date end as withdrawal_date,
        case when change_type_code = 'revoke' then logical_date end as withdrawal_landed_date,
        raw_row_id
    from known_permits
    where known_rank = 1

),

penalties_ruled as (

    select
        known_penalties.*,
        publicity_rules.severity_code,
        publicity_rules.published_in_principle,
        (
            known_penalties.decision_date
            + make_interval(months => publicity_rules.min_publicity_months)
        )::date as publicity_min_end,
        (
            known_penalties.decision_date
            + make_interval(months => publicity_rules.max_publicity_months)
        )::date as publicity_max_end
    from known_penalties
    inner join penalty_tiers
        on known_penalties.penalty_category = penalty_tiers.penalty_category
    -- A large fine (较大数额罚款) publishes under the serious tier.
    inner join publicity_rules
        on publicity_rules.severity_code = case
            when known_penalties.fine_amount >= penalty_tiers.serious_fine_from_wan
                then 'serious'
            else penalty_tiers.severity_code
        end
    where known_penalties.known_rank = 1

),

penalties as (

    -- The penalty's own publicity end (公示截止期) where the department sent one, held within
    -- its tier's minimum and maximum periods; else the maximum.
    select
        'penalty' as record_kind,
        record_key,
        dept_code,
        penalty_doc_no as doc_no,
        subject_key,
        subject_name,
        subject_type_code,
        penalty_category as category,
        penalty_content as content,
        decision_date,
        severity_code,
        published_in_principle,
        decision_date as publicity_start,
        case
            when publicity_until is null or publicity_until > publicity_max_end
                then publicity_max_end
            when publicity_until < publicity_min_end then publicity_min_end
            else publicity_until
        end as publicity_end,
        case
            when publicity_until is null or publicity_until > publicity_max_end
                then 'rule_maximum'
            when publicity_until < publicity_min_end then 'rule_minimum'
            else 'source'
        end as publicity_end_basis,
        true as in_force,
        false as under_objection,
        case when change_type_code = 'revoke' then 'revocation' end as withdrawal_reason_code,
        case when change_type_code = 'revoke' then known_date end as withdrawal_date,
        case when change_type_code = 'revoke' then logical_date end as withdrawal_landed_date,
        raw_row_id
    from penalties_ruled

),

dishonesties as (

    -- The lifecycle's periods and exits: an exit by repair, revocation or correction is a
    -- withdrawal on its day; an expiry ends the period.
    select
        'dishonesty' as record_kind,
        dishonesty_records.dept_code || '|' || dishonesty_records.decision_doc_no as record_key,
        dishonesty_records.dept_code,
        dishonesty_records.decision_doc_no as doc_no,
        dishonesty_records.subject_key,
        dishonesty_records.subject_name,
        dishonesty_records.subject_type_code,
        publicity_rules.severity_zh as category,
        dishonesty_records.behaviour as content,
        dishonesty_records.decision_date,
        dishonesty_records.severity_code,
        publicity_rules.published_in_principle,
        dishonesty_records.publicity_start,
        dishonesty_records.publicity_end,
        'rule_maximum' as publicity_end_basis,
        true as in_force,
        dishonesty_records.under_objection,
        case
            when dishonesty_records.exit_reason in ('repair', 'revocation', 'correction')
                then dishonesty_records.exit_reason
        end as withdrawal_reason_code,
        case
            when dishonesty_records.exit_reason in ('repair', 'revocation', 'correction')
                then dishonesty_records.exit_date
        end as withdrawal_date,
        -- The night the change was landed: int_publicity_withdrawals_known.
        null::date as withdrawal_landed_date,
        dishonesty_records.current_raw_row_id as raw_row_id
    from dishonesty_records
    inner join publicity_rules
        on dishonesty_records.severity_code = publicity_rules.severity_code

),

unioned as (

    select * from permits
    union all
    select * from penalties
    union all
    select * from dishonesties

),

final as (

    select
        unioned.record_kind || ':' || unioned.dept_code || '|' || unioned.doc_no
            as publicity_record_id,
        unioned.record_kind,
        unioned.record_key,
        unioned.dept_code,
        unioned.doc_no,
        unioned.subject_key,
        unioned.subject_name,
        unioned.subject_type_code,
        -- A natural person is published by masked name only, with no identifier; others by
        -- their subject key (the USCC, or a legacy identifier no registration links yet).
        case
            when unioned.subject_type_code <> 'natural_person' then unioned.subject_key
        end as subject_identifier,
        unioned.category,
        unioned.content,
        unioned.decision_date,
        unioned.severity_code,
        unioned.published_in_principle,
        unioned.publicity_start,
        unioned.publicity_end,
        unioned.publicity_end_basis,
        unioned.in_force,
        unioned.under_objection,
        unioned.withdrawal_reason_code,
        unioned.withdrawal_date,
        unioned.withdrawal_landed_date,
        unioned.raw_row_id,
        as_of.as_of_date
    from unioned
    cross join as_of

)

select * from final

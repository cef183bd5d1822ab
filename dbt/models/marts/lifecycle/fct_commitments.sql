{#- Credit commitments (信用承诺) known on the as-of date, one row per commitment: its latest
    version known then (landed by the as-of night, as the dishonesty lifecycle reads
    versions), whether it was kept (履约) or breached (未履约) and the
    day the department first recorded so. A revoked commitment (撤销) is kept, marked revoked;
    it is neither kept nor breached. -#}
{%- set county_timezone = var('county_timezone', 'Asia/Shanghai') -%}

with

as_of as (

    select * from {{ ref('int_lifecycle_as_of') }}

),

versions as (

    select
        commitments.*,
        (commitments.updated_at at time zone '{{ county_timezone }}')::date as known_date
    from {{ ref('stg_raw__commitments') }} as commitments
    cross join as_of
    where {{ known_on_as_of('commitments') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by record_key order by updated_at desc, raw_row_id desc
        ) as recency,
        min(known_date) filter (where fulfilment = '履约') over (
            partition by record_key
        ) as first_kept_date,
        min(known_date) filter (where fulfilment = '未履约') over (
            partition by record_key
        ) as first_breached_date
    from versions

),

final as (

    select
        ranked.record_key::text as record_key,
        as_of.as_of_date::date as as_of_date,
        ranked.dept_code::text as dept_code,
        ranked.subject_key::text as subject_key,
        ranked.subject_name::text as subject_name,
        ranked.subject_type_code::text as subject_type_code,
        ranked.commitment_no::text as commitment_no,
        ranked.commitment_type::text as commitment_type,
        ranked.commitment_date::date as commitment_date,
        (
            case
                when ranked.change_type_code = 'revoke' then 'revoked'
                when ranked.fulfilment = '履约' then 'kept'
                when ranked.fulfilment = '未履约' then 'breached'
                else 'pending'
            end
        )::text as fulfilment_code,
        (
            case
                when ranked.change_type_code = 'revoke' then '已撤销'
                else ranked.fulfilment
            end
        )::text as fulfilment_zh,
        (
            case
                when ranked.change_type_code = 'revoke' then null
                when ranked.fulfilment = '履约' then ranked.first_kept_date
                when ranked.fulfilment = '未履约' then ranked.first_breached_date
            end
        )::date as settled_date,
        ranked.raw_row_id::bigint as raw_row_id,
        ranked.batch_id::bigint as batch_id,
        ranked.source_ref::text as source_ref
    from ranked
    cross join as_of
    where ranked.recency = 1

)

select * from final

{#- The warehouse's register of the warnings it raised (预警登记): one row per warning with the
    night that first raised it. A night registers, dated its as-of date, every condition that
    holds on that date (began on or before it and has not cleared) and that no earlier night
    registered; a registered warning is never re-dated. So a condition whose evidence reached
    the warehouse after the condition began is dated the night the evidence arrived, and the
    first night's finds are dated the first night. Nothing is registered before the
    warehouse's first night, nor by a rebuild as of a day before the register's latest night
    (a past day's warnings are those registered by then).

    Incremental and kept by a full refresh (full_refresh=false): the register is what the
    warehouse said, not something the sources can say again. -#}

{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        full_refresh=false,
        on_schema_change='fail',
        indexes=[{'columns': ['warning_id'], 'unique': True}],
    )
}}

with

conditions as (

    select * from {{ ref('int_warning_conditions') }}

),

held as (

    select
        warning_id,
        rule_code,
        condition_key,
        as_of_date as raised_date
    from conditions
    where
        as_of_date >= first_night
        and condition_date <= as_of_date
        and (closed_date is null or closed_date > as_of_date)

),

final as (

    select
        held.warning_id::text as warning_id,
        held.rule_code::text as rule_code,
        held.condition_key::text as condition_key,
        held.raised_date::date as raised_date
    from held
    {%- if is_incremental() %}
        where
            not exists (
                select 1 from {{ this }} as registered
                where registered.warning_id = held.warning_id
            )
            and held.raised_date >= (
                select coalesce(max(registered.raised_date), '-infinity'::date)
                from {{ this }} as registered
            )
    {%- endif %}

)

select * from final

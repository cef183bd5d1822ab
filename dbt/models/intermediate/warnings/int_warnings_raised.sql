{#- The warehouse's register of the warnings it raised (预警登记): one row per warning with the
    night that first raised it. A night registers, dated its as-of date, every condition that
    holds on that date (began on or before it and has not cleared) and that no earlier night
    registered; a registered warning is never re-dated. So a condition whose evidence reached
    the warehouse after the condition began is dated the night the evidence arrived, and the
    first night's finds are dated the first night. Nothing is registered before the
    warehouse's first night, nor by a rebuild as of a day before the register's latest night
    (a past day's warnings are those registered by then).

    A warning keeps the warning_id it was first raised with (md5(rule_code | condition_key)
    then): the number the departments were sent and answer by. A rotation of the resident-ID
    hash key re-keys a condition key naming a natural person (credit.hash_key) and keeps its
    number, so a night looks a condition up by rule and condition key, not by its id.

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
                where
                    registered.rule_code = held.rule_code
                    and registered.condition_key = held.condition_key
            )
            and held.raised_date >= (
                select coalesce(max(registered.raised_date), '-infinity'::date)
                from {{ this }} as registered
            )
    {%- endif %}

)

select * from final

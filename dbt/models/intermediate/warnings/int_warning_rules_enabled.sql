{#- The enabled warning rules (预警规则) of the `warning_rules` seed, with the as-of date and the
    warehouse's first night (首次归集: the earliest night a batch was landed for, on or before
    the as-of date): the warehouse raises nothing before it. -#}

with

rules as (

    select * from {{ ref('warning_rules') }}
    where enabled

),

as_of as (

    select as_of_date from {{ ref('int_lifecycle_as_of') }}

),

first_night as (

    select min(batches.logical_date) as first_night
    from {{ source('audit', 'batches') }} as batches
    inner join as_of on batches.logical_date <= as_of.as_of_date

),

final as (

    select
        rules.rule_code,
        rules.rule_name,
        rules.rule_name_en,
        rules.severity_code,
        rules.responsible,
        rules.threshold_days,
        rules.threshold_ratio,
        rules.threshold_count,
        rules.min_base,
        rules.threshold_grades,
        as_of.as_of_date,
        first_night.first_night
    from rules
    cross join as_of
    cross join first_night

)

select * from final

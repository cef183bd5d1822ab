{#- The enabled warning rules (预警规则) of the `warning_rules` seed, with the as-of date. -#}

with

rules as (

    select * from {{ ref('warning_rules') }}
    where enabled

),

as_of as (

    select as_of_date from {{ ref('int_lifecycle_as_of') }}

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
        rules.threshold_grades,
        as_of.as_of_date
    from rules
    cross join as_of

)

select * from final

{#- The conditions every enabled warning rule finds (预警条件), before the as-of filter: one row
    per rule and condition key with its warning_id = md5(rule_code | condition_key) (a condition
    keeps its id on every re-run; the register, int_warnings_raised, keeps the one a warning
    was first raised with), condition_date (the day it first held) and closed_date (the
    day it cleared), and the rule's name, severity, recipient, as-of date and the warehouse's
    first night. -#}

with

candidates as (

    select * from {{ ref('int_warnings_record_followups') }}
    union all
    select * from {{ ref('int_warnings_grade_falls') }}
    union all
    select * from {{ ref('int_warnings_cross_analyses') }}
    union all
    select * from {{ ref('int_warnings_collection_gaps') }}
    union all
    select * from {{ ref('int_warnings_objections') }}
    union all
    select * from {{ ref('int_warnings_rule_violations') }}
    union all
    select * from {{ ref('int_warnings_commitments') }}

),

rules as (

    select * from {{ ref('int_warning_rules_enabled') }}

),

final as (

    select
        md5(candidates.rule_code || '|' || candidates.condition_key) as warning_id,
        candidates.rule_code,
        candidates.condition_key,
        candidates.subject_key,
        candidates.dept_code,
        candidates.raised_date as condition_date,
        candidates.closed_date,
        candidates.facts,
        rules.rule_name,
        rules.rule_name_en,
        rules.severity_code,
        rules.responsible,
        rules.as_of_date,
        rules.first_night
    from candidates
    inner join rules on candidates.rule_code = rules.rule_code

)

select * from final

{#- Credit warnings (信用预警) as of the as-of date: one row per condition of an enabled rule
    that held on or before it. warning_id = md5(rule_code | condition key), so a condition is
    raised once and keeps its id on every re-run. condition_date is the day the condition
    first held; raised_date the day the warehouse raised it: the same, or the warehouse's first
    night for a condition that held before it, marked is_backlog (存量预警) rather than
    backdated. status is closed from the day the condition cleared (closed_date), open before.
    A condition that cleared on or before the day it would be raised is no warning. -#}

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

),

rules as (

    select * from {{ ref('int_warning_rules_enabled') }}

),

departments as (

    select dept_code from {{ ref('departments') }}

),

subjects as (

    select
        subject_key,
        subject_name,
        division_code
    from {{ ref('dim_subjects') }}

),

raised as (

    select
        candidates.*,
        candidates.raised_date as condition_date,
        greatest(candidates.raised_date, rules.first_night) as warehouse_raised_date,
        coalesce(candidates.raised_date < rules.first_night, false) as is_backlog
    from candidates
    inner join rules on candidates.rule_code = rules.rule_code

),

held as (

    select
        raised.*,
        rules.rule_name,
        rules.rule_name_en,
        rules.severity_code,
        rules.responsible,
        rules.as_of_date,
        case
            when raised.closed_date <= rules.as_of_date then raised.closed_date
        end as known_closed_date
    from raised
    inner join rules on raised.rule_code = rules.rule_code
    where
        raised.warehouse_raised_date <= rules.as_of_date
        and (raised.closed_date is null or raised.closed_date > raised.warehouse_raised_date)

),

final as (

    select
        md5(held.rule_code || '|' || held.condition_key)::text as warning_id,
        held.rule_code::text as rule_code,
        held.rule_name::text as rule_name,
        held.rule_name_en::text as rule_name_en,
        held.condition_key::text as condition_key,
        held.subject_key::text as subject_key,
        subjects.subject_name::text as subject_name,
        subjects.division_code::text as division_code,
        coalesce(departments.dept_code, held.dept_code)::text as responsible_dept_code,
        held.severity_code::text as severity_code,
        held.warehouse_raised_date::date as raised_date,
        held.condition_date::date as condition_date,
        held.is_backlog::boolean as is_backlog,
        held.facts::text as facts,
        (case when held.known_closed_date is null then 'open' else 'closed' end)::text as status,
        held.known_closed_date::date as closed_date,
        held.as_of_date::date as as_of_date
    from held
    left join subjects on held.subject_key = subjects.subject_key
    left join departments on held.responsible = departments.dept_code

)

select * from final

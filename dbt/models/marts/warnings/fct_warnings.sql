{#- Credit warnings (信用预警) as of the as-of date: one row per condition of an enabled rule
    that held on or before it. warning_id = md5(rule_code | condition key), so a condition is
    raised once and keeps its id on every re-run. condition_date is the day the condition
    first held; raised_date the day the warehouse raised it: the same, or the warehouse's first
    night for a condition that held before it, marked is_backlog (存量预警) rather than
    backdated. A warning closes (closed_date) the day its condition cleared or the day its
    responsible department closed it through its system (预警处置反馈, close_method_code says
    which came first, closed_by who closed it); until then it is acknowledged from the day the
    department signed for it, open before. A condition that cleared on or before the day it
    would be raised is no warning. -#}

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

feedback as (

    select * from {{ ref('int_warning_feedback') }}

),

routed as (

    select
        held.*,
        md5(held.rule_code || '|' || held.condition_key) as warning_id,
        coalesce(departments.dept_code, held.dept_code) as responsible_dept_code
    from held
    left join departments on held.responsible = departments.dept_code

),

handled as (

    select
        routed.*,
        feedback.acknowledged_date,
        feedback.acknowledged_by,
        feedback.closed_by as department_closed_by,
        -- greatest() skips a null: a warning no department closed has no closing day.
        case
            when feedback.closed_date is not null
                then greatest(feedback.closed_date, routed.warehouse_raised_date)
        end as department_closed_date
    from routed
    left join feedback
        on
            routed.warning_id = feedback.warning_id
            and routed.responsible_dept_code = feedback.dept_code

),

closing as (

    select
        handled.*,
        least(handled.known_closed_date, handled.department_closed_date) as warning_closed_date,
        case
            when handled.department_closed_date < coalesce(handled.known_closed_date, 'infinity')
                then 'department_closed'
            when handled.known_closed_date is not null then 'condition_cleared'
        end as close_method
    from handled

),

final as (

    select
        closing.warning_id::text as warning_id,
        closing.rule_code::text as rule_code,
        closing.rule_name::text as rule_name,
        closing.rule_name_en::text as rule_name_en,
        closing.condition_key::text as condition_key,
        closing.subject_key::text as subject_key,
        subjects.subject_name::text as subject_name,
        subjects.division_code::text as division_code,
        closing.responsible_dept_code::text as responsible_dept_code,
        closing.severity_code::text as severity_code,
        closing.warehouse_raised_date::date as raised_date,
        closing.condition_date::date as condition_date,
        closing.is_backlog::boolean as is_backlog,
        closing.facts::text as facts,
        (case
            when closing.warning_closed_date is not null then 'closed'
            when closing.acknowledged_date is not null then 'acknowledged'
            else 'open'
        end)::text as status,
        closing.acknowledged_date::date as acknowledged_date,
        closing.acknowledged_by::text as acknowledged_by,
        closing.warning_closed_date::date as closed_date,
        closing.close_method::text as close_method_code,
        (case
            when closing.close_method = 'department_closed' then closing.department_closed_by
        end)::text as closed_by,
        closing.as_of_date::date as as_of_date
    from closing
    left join subjects on closing.subject_key = subjects.subject_key

)

select * from final

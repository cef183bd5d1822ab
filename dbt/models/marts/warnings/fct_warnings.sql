{#- Credit warnings (信用预警) as of the as-of date: one row per condition of an enabled rule
    (int_warning_conditions) that the warehouse raised by the as-of date (int_warnings_raised).
    condition_date is the day the condition first held; raised_date the night the warehouse
    first raised it: the same day when its evidence was there, the night the evidence arrived
    when it came later; a condition that held before the first night the warehouse raised
    warnings is raised that night and marked is_backlog (存量预警: what the first night found)
    rather than backdated. A warning closes (closed_date) the day its condition
    cleared or the day its responsible department closed it through its system (预警处置反馈,
    close_method_code says which came first, closed_by who closed it); until then it is
    acknowledged from the day the department signed for it, open before. warning_id is the
    number the register raised it with (预警编号, what departments answer by), which a rotation
    of the resident-ID hash key keeps while it re-keys the condition. -#}

with

conditions as (

    select * from {{ ref('int_warning_conditions') }}

),

registered as (

    select * from {{ ref('int_warnings_raised') }}

),

-- The first night the warehouse raised warnings: what it found then is the backlog.
first_raised as (

    select min(raised_date) as first_raised_date from registered

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

held as (

    select
        registered.warning_id,
        conditions.rule_code,
        conditions.condition_key,
        conditions.subject_key,
        conditions.dept_code,
        conditions.condition_date,
        conditions.closed_date,
        conditions.facts,
        conditions.rule_name,
        conditions.rule_name_en,
        conditions.severity_code,
        conditions.responsible,
        conditions.as_of_date,
        registered.raised_date as warehouse_raised_date,
        coalesce(
            registered.raised_date = first_raised.first_raised_date
            and conditions.condition_date < first_raised.first_raised_date,
            false
        ) as is_backlog,
        case
            when conditions.closed_date <= conditions.as_of_date then conditions.closed_date
        end as known_closed_date
    from conditions
    inner join registered
        on
            conditions.rule_code = registered.rule_code
            and conditions.condition_key = registered.condition_key
    cross join first_raised
    where
        registered.raised_date <= conditions.as_of_date
        and conditions.condition_date <= conditions.as_of_date
        and (conditions.closed_date is null or conditions.closed_date > registered.raised_date)

),

feedback as (

    select * from {{ ref('int_warning_feedback') }}

),

routed as (

    select
        held.*,
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

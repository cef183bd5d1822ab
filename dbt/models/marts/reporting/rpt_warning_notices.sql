{#- 预警通知 The warnings the day's notices list: every warning not closed, and those raised or
    closed on the as-of date, with the names a reader needs (responsible department, subject and
    its identifier, masked for a person, division) and who signed for or closed it. -#}
with

warnings as (

    select * from {{ ref('fct_warnings') }}
    where status <> 'closed' or raised_date = as_of_date or closed_date = as_of_date

),

subjects as (

    select * from {{ ref('dim_subjects') }}

),

departments as (

    select * from {{ ref('departments') }}

),

divisions as (

    select * from {{ ref('jiangyin_divisions') }}

),

final as (

    select
        warnings.warning_id::text as warning_id,
        warnings.rule_code::text as rule_code,
        warnings.rule_name::text as rule_name,
        warnings.severity_code::text as severity_code,
        warnings.responsible_dept_code::text as responsible_dept_code,
        coalesce(departments.name_zh, warnings.responsible_dept_code)::text as dept_name,
        warnings.subject_name::text as subject_name,
        coalesce(subjects.uscc, subjects.id_number_masked)::text as subject_identifier,
        warnings.division_code::text as division_code,
        divisions.name_zh::text as division_name,
        warnings.raised_date::date as raised_date,
        warnings.is_backlog::boolean as is_backlog,
        warnings.status::text as status,
        warnings.acknowledged_date::date as acknowledged_date,
        warnings.acknowledged_by::text as acknowledged_by,
        warnings.closed_date::date as closed_date,
        warnings.close_method_code::text as close_method_code,
        warnings.closed_by::text as closed_by,
        warnings.facts::text as facts,
        warnings.as_of_date::date as as_of_date
    from warnings
    left join subjects on warnings.subject_key = subjects.subject_key
    left join departments on warnings.responsible_dept_code = departments.dept_code
    left join divisions on warnings.division_code = divisions.division_code

)

select * from final

{#- Joint visits (联合检查，进一次门、查多项事): one row per subject that several departments drew
    in the same quarter, naming the lead department (the subject's domain lead when it drew
    the subject, else the first by code) and every department's inspection items. -#}

with

plans as (

    select * from {{ ref('fct_inspection_plans') }}
    where joint_visit_id is not null

),

subjects as (

    select
        subject_key,
        lead_dept_code
    from {{ ref('int_subject_domains') }}

),

departments as (

    select
        dept_code,
        name_zh
    from {{ ref('departments') }}

),

final as (

    select
        plans.joint_visit_id::text as joint_visit_id,
        plans.plan_quarter::text as plan_quarter,
        plans.subject_key::text as subject_key,
        min(plans.subject_name)::text as subject_name,
        min(plans.grade)::text as grade,
        count(*)::integer as dept_count,
        coalesce(
            min(plans.dept_code) filter (where plans.dept_code = subjects.lead_dept_code),
            min(plans.dept_code)
        )::text as lead_dept_code,
        string_agg(plans.dept_code, ';' order by plans.dept_code)::text as dept_codes,
        string_agg(
            departments.name_zh || '：' || plans.inspection_items, '；' order by plans.dept_code
        )::text as inspection_items
    from plans
    inner join subjects on plans.subject_key = subjects.subject_key
    inner join departments on plans.dept_code = departments.dept_code
    group by plans.joint_visit_id, plans.plan_quarter, plans.subject_key

)

select * from final

{#- What came of each issued inspection plan (抽查计划执行情况): one row per plan (quarter and
    department), joining the department's double-random inspection results (record kind
    `inspection`, 检查方式 双随机抽查; latest version, not revoked, dated in the plan's quarter and
    on or before the as-of date) back to the subjects it drew. Coverage (覆盖率) is the share of
    the drawn subjects inspected; findings count the drawn subjects inspected with problems
    found (发现问题…) or unreachable at their registered address, as the evaluation reads the
    same results; double-random inspections of subjects the plan did not draw are counted
    apart (off_plan_inspections). -#}

with

plans as (

    select * from {{ ref('fct_inspection_plans') }}

),

as_of as (

    select as_of_date from {{ ref('int_lifecycle_as_of') }}

),

inspections as (

    select
        inspections.dept_code,
        inspections.subject_key,
        inspections.inspection_date,
        inspections.result
    from ({{ known_latest(ref('stg_raw__inspections')) }}) as inspections
    where
        inspections.change_type_code <> 'revoke'
        and inspections.inspection_method = '双随机抽查'
        and inspections.subject_key is not null
        and inspections.inspection_date <= (select as_of.as_of_date from as_of)

),

plan_quarters as (

    select distinct
        plan_quarter,
        dept_code,
        quarter_start,
        quarter_end,
        issued_date,
        draw_seed
    from plans

),

items as (

    select
        plans.plan_quarter,
        plans.dept_code,
        plans.subject_key,
        count(inspections.subject_key) > 0 as is_inspected,
        coalesce(bool_or(inspections.result like '发现问题%'), false) as has_problems,
        coalesce(
            bool_or(inspections.result = '通过登记的住所（经营场所）无法联系'), false
        ) as is_unreachable
    from plans
    left join inspections
        on
            plans.dept_code = inspections.dept_code
            and plans.subject_key = inspections.subject_key
            and inspections.inspection_date between plans.quarter_start and plans.quarter_end
    group by plans.plan_quarter, plans.dept_code, plans.subject_key

),

off_plan as (

    select
        plan_quarters.plan_quarter,
        plan_quarters.dept_code,
        count(*) as off_plan_inspections
    from plan_quarters
    inner join inspections
        on
            plan_quarters.dept_code = inspections.dept_code
            and inspections.inspection_date
            between plan_quarters.quarter_start and plan_quarters.quarter_end
    where
        not exists (
            select from plans
            where
                plans.plan_quarter = plan_quarters.plan_quarter
                and plans.dept_code = plan_quarters.dept_code
                and plans.subject_key = inspections.subject_key
        )
    group by plan_quarters.plan_quarter, plan_quarters.dept_code

),

counted as (

    select
        plan_quarter,
        dept_code,
        count(*) as drawn,
        count(*) filter (where is_inspected) as inspected,
        count(*) filter (where has_problems) as problems_found,
        count(*) filter (where is_unreachable) as unreachable
    from items
    group by plan_quarter, dept_code

),

final as (

    select
        (plan_quarters.plan_quarter || '|' || plan_quarters.dept_code)::text as plan_key,
        plan_quarters.plan_quarter::text as plan_quarter,
        plan_quarters.dept_code::text as dept_code,
        plan_quarters.quarter_start::date as quarter_start,
        plan_quarters.quarter_end::date as quarter_end,
        plan_quarters.issued_date::date as issued_date,
        plan_quarters.draw_seed::text as draw_seed,
        counted.drawn::integer as drawn,
        counted.inspected::integer as inspected,
        round(counted.inspected::numeric / counted.drawn, 4)::numeric as coverage_share,
        counted.problems_found::integer as problems_found,
        counted.unreachable::integer as unreachable,
        coalesce(off_plan.off_plan_inspections, 0)::integer as off_plan_inspections,
        as_of.as_of_date::date as as_of_date
    from plan_quarters
    inner join counted
        on
            plan_quarters.plan_quarter = counted.plan_quarter
            and plan_quarters.dept_code = counted.dept_code
    left join off_plan
        on
            plan_quarters.plan_quarter = off_plan.plan_quarter
            and plan_quarters.dept_code = off_plan.dept_code
    cross join as_of

)

select * from final

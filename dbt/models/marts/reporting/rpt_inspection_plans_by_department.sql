{#- 双随机抽查计划 The spot-check plans per quarter and department: subjects drawn by grade, in all,
    how many of them a joint visit (联合检查) covers, and what came of the plan so far
    (fct_inspection_plan_results): the drawn subjects inspected and their share (覆盖率), those
    found with problems and those unreachable at their registered address. -#}
with

plans as (

    select * from {{ ref('fct_inspection_plans') }}

),

results as (

    select * from {{ ref('fct_inspection_plan_results') }}

),

drawn as (

    select
        plan_quarter,
        dept_code,
        count(*) filter (where grade = 'A') as grade_a,
        count(*) filter (where grade = 'B') as grade_b,
        count(*) filter (where grade = 'C') as grade_c,
        count(*) filter (where grade = 'D') as grade_d,
        count(*) as drawn,
        count(joint_visit_id) as in_joint_visits
    from plans
    group by plan_quarter, dept_code

),

final as (

    select
        drawn.plan_quarter::text as plan_quarter,
        drawn.dept_code::text as dept_code,
        drawn.grade_a::bigint as grade_a,
        drawn.grade_b::bigint as grade_b,
        drawn.grade_c::bigint as grade_c,
        drawn.grade_d::bigint as grade_d,
        drawn.drawn::bigint as drawn,
        drawn.in_joint_visits::bigint as in_joint_visits,
        results.inspected::bigint as inspected,
        results.coverage_share::numeric as coverage_share,
        results.problems_found::bigint as problems_found,
        results.unreachable::bigint as unreachable
    from drawn
    left join results
        on
            drawn.plan_quarter = results.plan_quarter
            and drawn.dept_code = results.dept_code

)

select * from final

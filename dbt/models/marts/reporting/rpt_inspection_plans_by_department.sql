{#- 双随机抽查计划 The spot-check plans per quarter and department: subjects drawn by grade, in all,
    and how many of them a joint visit (联合检查) covers. -#}
with

plans as (

    select * from {{ ref('fct_inspection_plans') }}

),

final as (

    select
        plan_quarter::text as plan_quarter,
        dept_code::text as dept_code,
        count(*) filter (where grade = 'A')::bigint as grade_a,
        count(*) filter (where grade = 'B')::bigint as grade_b,
        count(*) filter (where grade = 'C')::bigint as grade_c,
        count(*) filter (where grade = 'D')::bigint as grade_d,
        count(*)::bigint as drawn,
        count(joint_visit_id)::bigint as in_joint_visits
    from plans
    group by plan_quarter, dept_code

)

select * from final

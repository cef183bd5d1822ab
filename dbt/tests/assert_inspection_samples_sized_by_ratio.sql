{#- 抽查比例 Each department's draw of each grade in each quarter holds exactly
    ceil(population × annual_share / plans_per_year) subjects (or the whole grade when smaller),
    and no subject twice. Returns the departments, quarters and grades that break it. -#}

with

plans as (

    select * from {{ ref('fct_inspection_plans') }}

),

ratios as (

    select * from {{ ref('inspection_ratios') }}

),

drawn as (

    select
        plan_quarter,
        dept_code,
        grade,
        count(*) as drawn,
        count(distinct subject_key) as distinct_drawn,
        max(grade_population) as grade_population
    from plans
    group by 1, 2, 3

),

final as (

    select drawn.*
    from drawn
    inner join ratios on drawn.grade = ratios.grade
    where
        drawn.drawn <> drawn.distinct_drawn
        or drawn.drawn <> least(
            drawn.grade_population,
            ceil(drawn.grade_population * ratios.annual_share / ratios.plans_per_year)
        )

)

select * from final

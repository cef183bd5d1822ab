{#- The double-random draw (双随机): per quarter, department and grade, the sample size is
    ceil(population × annual_share / plans_per_year) (`inspection_ratios`), and the subjects
    drawn are the first in the order of md5(draw_seed || subject_key). The draw seed records
    the quarter, the department and `var('inspection_draw_salt')`, so anyone can repeat it. -#}

with

populations as (

    select * from {{ ref('int_inspection_populations') }}

),

ratios as (

    select * from {{ ref('inspection_ratios') }}

),

seeded as (

    select
        populations.*,
        populations.plan_quarter || ':' || populations.dept_code || ':'
        || '{{ var("inspection_draw_salt", "jiangyin") }}' as draw_seed
    from populations

),

ranked as (

    select
        seeded.*,
        ratios.annual_share,
        ratios.plans_per_year,
        count(*) over (
            partition by seeded.plan_quarter, seeded.dept_code, seeded.grade
        ) as grade_population,
        row_number() over (
            partition by seeded.plan_quarter, seeded.dept_code, seeded.grade
            order by md5(seeded.draw_seed || seeded.subject_key), seeded.subject_key
        ) as draw_rank
    from seeded
    inner join ratios on seeded.grade = ratios.grade

),

sized as (

    select
        *,
        ceil(grade_population * annual_share / plans_per_year)::integer as sample_size
    from ranked

),

final as (

    select
        plan_quarter,
        quarter_start,
        quarter_end,
        issued_date,
        dept_code,
        subject_key,
        subject_name,
        domain_code,
        grade_date,
        grade,
        draw_seed,
        grade_population,
        draw_rank,
        sample_size
    from sized
    where draw_rank <= sample_size

)

select * from final

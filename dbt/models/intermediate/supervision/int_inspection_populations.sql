{#- Who each department may draw in the double-random spot checks (双随机抽查对象库) of the
    quarter issued tonight (int_inspection_quarters; none on most nights): registered subjects
    existing (存续) as the warehouse knows them tonight and established before the quarter,
    whose GB/T 4754 section is in the department's `inspection_scopes`, with the grade of the
    latest evaluation before the quarter began (the earliest evaluation when there is none). -#}

with

quarters as (

    select
        quarter_start,
        quarter_end,
        plan_quarter,
        issued_date
    from {{ ref('int_inspection_quarters') }}

),

scopes as (

    select distinct
        dept_code,
        industry_section
    from {{ ref('inspection_scopes') }}

),

subjects as (

    select * from {{ ref('int_subject_domains') }}
    where is_registered and status = '存续'

),

-- The evaluation each quarter draws by: the latest date before the quarter began, else the
-- earliest (every subject is evaluated on every date, so this is each subject's own).
quarter_dates as (

    select
        quarters.plan_quarter,
        coalesce(
            max(dates.evaluation_date)
            filter (where dates.evaluation_date < quarters.quarter_start),
            min(dates.evaluation_date)
        ) as grade_date
    from quarters
    cross join {{ ref('int_evaluation_dates') }} as dates
    group by quarters.plan_quarter

),

quarter_grades as (

    select
        quarter_dates.plan_quarter,
        grades.subject_key,
        quarter_dates.grade_date,
        grades.grade
    from quarter_dates
    inner join {{ ref('fct_subject_grades') }} as grades
        on quarter_dates.grade_date = grades.evaluation_date

),

final as (

    select
        quarters.plan_quarter,
        quarters.quarter_start,
        quarters.quarter_end,
        quarters.issued_date,
        scopes.dept_code,
        subjects.subject_key,
        subjects.subject_name,
        subjects.domain_code,
        subjects.lead_dept_code,
        quarter_grades.grade_date,
        quarter_grades.grade
    from quarters
    inner join subjects
        on quarters.quarter_start > subjects.established_date
    inner join scopes on subjects.industry_section = scopes.industry_section
    inner join quarter_grades
        on
            quarters.plan_quarter = quarter_grades.plan_quarter
            and subjects.subject_key = quarter_grades.subject_key

)

select * from final

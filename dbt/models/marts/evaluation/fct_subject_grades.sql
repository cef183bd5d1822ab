{#- One row per subject and evaluation date: the stored grades (int_subject_grades) with the
    as-of date's dated by the day they hold for, the as-of date of their last evaluation
    (intermediate.evaluated_dates, written with them). A view: the current grades are kept from
    night to night for the subjects whose score cannot have changed, so no night rewrites them
    all. Filtered by is_current or by evaluation_date, it reads the stored rows by index. -#}

with

as_of as (

    select evaluation_date as as_of_date
    from {{ source('evaluation_state', 'evaluated_dates') }}
    where is_current

),

-- The stored table named in each branch, not through an import CTE: a CTE read twice is
-- materialised whole, and a look-up by subject through the view would scan every row.
dated as (

    select
        grades.*,
        grades.evaluation_date as dated_on,
        false as is_current
    from {{ ref('int_subject_grades') }} as grades
    where grades.evaluation_date <> 'infinity'
    union all
    select
        grades.*,
        as_of.as_of_date as dated_on,
        true as is_current
    from {{ ref('int_subject_grades') }} as grades
    cross join as_of
    where grades.evaluation_date = 'infinity'

),

final as (

    select
        (subject_key || '|' || dated_on::text)::text as subject_grade_key,
        subject_key,
        dated_on as evaluation_date,
        domain_code,
        model_code,
        score,
        grade,
        previous_grade,
        public_credit_points,
        industry_evaluation_points,
        market_evaluation_points,
        is_current
    from dated

)

select * from final

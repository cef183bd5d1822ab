{#- Itemised score contributions (评分明细), one row per subject, evaluation date and indicator:
    the stored rows (int_score_contributions) with the as-of date's dated by the day they hold
    for, as fct_subject_grades. -#}

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
        contributions.*,
        contributions.evaluation_date as dated_on,
        false as is_current
    from {{ ref('int_score_contributions') }} as contributions
    where contributions.evaluation_date <> 'infinity'
    union all
    select
        contributions.*,
        as_of.as_of_date as dated_on,
        true as is_current
    from {{ ref('int_score_contributions') }} as contributions
    cross join as_of
    where contributions.evaluation_date = 'infinity'

),

final as (

    select
        (subject_key || '|' || dated_on::text || '|' || indicator_code)::text
            as contribution_key,
        subject_key,
        dated_on as evaluation_date,
        indicator_code,
        indicator_name,
        component_code,
        fact_count,
        points,
        is_current
    from dated

)

select * from final

{#- Evaluation dates (评价日): every month end of the last `evaluation_history_months` months
    before the as-of date, and the as-of date itself, so the grade history can be rebuilt from
    dated facts and a re-run of the same as-of date gives the same rows. stored_date is the date
    the evaluation's rows are stored under (int_subject_grades, int_score_contributions): the
    month end itself, 'infinity' for the as-of date's (the current evaluation, kept from night
    to night for the subjects whose score cannot have changed). -#}
{%- set history_months = var('evaluation_history_months', 12) -%}

with

as_of as (

    select as_of_date from {{ ref('int_lifecycle_as_of') }}

),

month_ends as (

    select (months.month_start + interval '1 month' - interval '1 day')::date as evaluation_date
    from as_of
    cross join lateral generate_series(
        date_trunc('month', as_of.as_of_date) - interval '{{ history_months }} months',
        date_trunc('month', as_of.as_of_date) - interval '1 month',
        interval '1 month'
    ) as months (month_start)

),

final as (

    select
        evaluation_date,
        evaluation_date as stored_date,
        false as is_current
    from month_ends
    union all
    select
        as_of_date as evaluation_date,
        'infinity'::date as stored_date,
        true as is_current
    from as_of

)

select * from final

{#- One row per subject, evaluation date and indicator: the points behind every score. -#}

with

contributions as (

    select * from {{ ref('int_score_contributions_itemised') }}

),

dates as (

    select * from {{ ref('int_evaluation_dates') }}

),

final as (

    select
        (
            contributions.subject_key || '|' || contributions.evaluation_date::text
            || '|' || contributions.indicator_code
        )::text as contribution_key,
        contributions.subject_key::text as subject_key,
        contributions.evaluation_date::date as evaluation_date,
        contributions.indicator_code::text as indicator_code,
        contributions.indicator_zh::text as indicator_name,
        contributions.component_code::text as component_code,
        contributions.fact_count::integer as fact_count,
        contributions.points::numeric(8, 2) as points,
        dates.is_current::boolean as is_current
    from contributions
    inner join dates on contributions.evaluation_date = dates.evaluation_date

)

select * from final

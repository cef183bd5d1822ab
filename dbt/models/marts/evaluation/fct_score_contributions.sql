{#- Itemised score contributions (评分明细), one row per subject, evaluation date and indicator:
    the stored rows (int_score_contributions) dated by the day they hold for, as
    fct_subject_grades. -#}

with

dated as (

    {{ dated_evaluations(ref('int_score_contributions')) }}

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

{#- One row per subject and evaluation date: the stored grades (int_subject_grades) dated by the
    day they hold for (macros/evaluation/dated_evaluations.sql). A view: the current grades are
    kept from night to night for the subjects whose score cannot have changed, so no night
    rewrites them all. Filtered by is_current or by evaluation_date, it reads the stored rows by
    index. -#}

with

dated as (

    {{ dated_evaluations(ref('int_subject_grades')) }}

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

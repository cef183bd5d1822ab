{#- 评分可解释 Every score equals the sum of its itemised contributions and lies within its
    model's bounds. Returns the grades that break it. -#}

with

grades as (

    select * from {{ ref('fct_subject_grades') }}

),

contributions as (

    select
        subject_key,
        evaluation_date,
        sum(points) as points
    from {{ ref('fct_score_contributions') }}
    group by 1, 2

),

models as (

    select * from {{ ref('evaluation_models') }}

),

final as (

    select
        grades.subject_grade_key,
        grades.score,
        contributions.points
    from grades
    inner join models on grades.model_code = models.model_code
    left join contributions
        on
            grades.subject_key = contributions.subject_key
            and grades.evaluation_date = contributions.evaluation_date
    where
        contributions.points is distinct from grades.score
        or grades.score not between models.min_score and models.max_score

)

select * from final

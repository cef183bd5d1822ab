{#- 评分可解释 Every score equals the sum of its itemised contributions and lies within its
    model's bounds. Returns the grades that break it. Checked for the pairs the build evaluated
    (int_evaluation_targets: every pair on the first build, tonight's delta on a night): a pair
    not evaluated again keeps the rows that passed the night they were written. -#}

with

targets as (

    select * from {{ ref('int_evaluation_targets') }}

),

grades as (

    select grades.*
    from {{ ref('fct_subject_grades') }} as grades
    inner join targets
        on
            grades.subject_key = targets.subject_key
            and grades.evaluation_date = targets.evaluation_date

),

contributions as (

    select
        contributions.subject_key,
        contributions.evaluation_date,
        sum(contributions.points) as points
    from {{ ref('fct_score_contributions') }} as contributions
    inner join targets
        on
            contributions.subject_key = targets.subject_key
            and contributions.evaluation_date = targets.evaluation_date
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

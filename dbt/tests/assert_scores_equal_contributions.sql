{#- 评分可解释 Every score equals the sum of its itemised contributions and lies within its
    model's bounds. Returns the grades that break it. Checked for the pairs the build evaluated
    (int_evaluation_targets: every pair on the first build, tonight's delta on a night; read by
    index, evaluated_tonight()): a pair not evaluated again keeps the rows that passed the night
    they were written. -#}

-- depends_on: {{ ref('int_evaluation_targets') }}
-- depends_on: {{ ref('int_evaluation_dates') }}

with

grades as (

    {{ evaluated_tonight(ref('int_subject_grades')) }}

),

contributions as (

    select
        subject_key,
        evaluation_date,
        sum(points) as points
    from ({{ evaluated_tonight(ref('int_score_contributions')) }}) as evaluated
    group by 1, 2

),

models as (

    select * from {{ ref('evaluation_models') }}

),

final as (

    select
        grades.subject_key,
        grades.evaluation_date,
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

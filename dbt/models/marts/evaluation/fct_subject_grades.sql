{#- One row per subject and evaluation date: score (the sum of its contributions) and grade
    A/B/C/D (the best grade whose `min_score` the score reaches, `grade_thresholds`). The rows
    with is_current are the grades as of the as-of date; the others are the grade history. -#}

with

contributions as (

    select * from {{ ref('fct_score_contributions') }}

),

subjects as (

    select * from {{ ref('int_subject_domains') }}

),

thresholds as (

    select * from {{ ref('grade_thresholds') }}

),

scores as (

    select
        subject_key,
        evaluation_date,
        bool_or(is_current) as is_current,
        sum(points) as score,
        sum(points) filter (where component_code = 'public_credit') as public_credit_points,
        sum(points) filter (where component_code = 'industry_evaluation') as industry_points,
        sum(points) filter (where component_code = 'market_evaluation') as market_points
    from contributions
    group by subject_key, evaluation_date

),

graded as (

    select
        scores.*,
        (
            select thresholds.grade
            from thresholds
            where scores.score >= thresholds.min_score
            order by thresholds.min_score desc
            limit 1
        ) as grade
    from scores

),

with_previous as (

    select
        graded.*,
        lag(graded.grade) over (
            partition by graded.subject_key order by graded.evaluation_date
        ) as previous_grade
    from graded

),

final as (

    select
        (with_previous.subject_key || '|' || with_previous.evaluation_date::text)::text
            as subject_grade_key,
        with_previous.subject_key::text as subject_key,
        with_previous.evaluation_date::date as evaluation_date,
        subjects.domain_code::text as domain_code,
        subjects.model_code::text as model_code,
        with_previous.score::numeric(8, 2) as score,
        with_previous.grade::text as grade,
        with_previous.previous_grade::text as previous_grade,
        coalesce(with_previous.public_credit_points, 0)::numeric(8, 2) as public_credit_points,
        coalesce(with_previous.industry_points, 0)::numeric(8, 2) as industry_evaluation_points,
        coalesce(with_previous.market_points, 0)::numeric(8, 2) as market_evaluation_points,
        with_previous.is_current::boolean as is_current
    from with_previous
    inner join subjects on with_previous.subject_key = subjects.subject_key

)

select * from final

{#- Grades as stored: one row per subject and evaluation date, score (the sum of its
    contributions) and grade A/B/C/D (the best grade whose `min_score` the score reaches,
    `grade_thresholds`); fct_subject_grades is what analysts read. The as-of date's grades are
    stored under 'infinity' (int_evaluation_dates.stored_date), the others are the history.

    Incremental, on the pairs of int_evaluation_targets as int_score_contributions: the previous
    grade of a pair comes from tonight's pairs or, for a date not re-evaluated, the stored row.
    The post-hook stores the fingerprints and dates evaluated (intermediate.evaluated_inputs,
    intermediate.evaluated_dates), in the same transaction as the rows. -#}

-- depends_on: {{ ref('int_evaluation_targets') }}
-- depends_on: {{ ref('int_evaluation_fingerprints') }}
-- depends_on: {{ ref('int_evaluation_input_changes') }}
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ prune_evaluations() }}",
        post_hook=[
            "{{ store_evaluation_state() }}",
            "{{ record_stored_dates() }}",
            "{{ partial_index('falls', ['evaluation_date'], 'previous_grade is not null and grade > previous_grade') }}",
        ],
        indexes=[{'columns': ['evaluation_date']}],
    )
}}

with

contributions as (

    {%- if is_incremental() %}
        {{ evaluated_tonight(ref('int_score_contributions')) }}
    {%- else %}
        select * from {{ ref('int_score_contributions') }}
    {%- endif %}

),

subjects as (

    select * from {{ ref('int_subject_domains') }}

),

thresholds as (

    select * from {{ ref('grade_thresholds') }}

),

-- Each evaluation date and the one before it in the window, as stored ('infinity', the as-of
-- date's, follows the last month end).
dates as (

    select
        stored_date as evaluation_date,
        lag(stored_date) over (order by stored_date) as previous_date
    from {{ ref('int_evaluation_dates') }}

),

scores as (

    select
        subject_key,
        evaluation_date,
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
        dates.previous_date,
        (
            select thresholds.grade
            from thresholds
            where scores.score >= thresholds.min_score
            order by thresholds.min_score desc
            limit 1
        ) as grade
    from scores
    inner join dates on scores.evaluation_date = dates.evaluation_date

),

-- The stored grades of the dates before the dates evaluated for every subject tonight, and of
-- the last month end for the subjects evaluated again on the as-of date alone (their score can
-- have moved since the previous as-of date): a subject re-evaluated for its own changes is
-- evaluated on every date tonight. On a full build every date is tonight's.
kept as (

    {%- if is_incremental() %}
        select
            subject_key,
            evaluation_date,
            grade
        from {{ this }}
        where evaluation_date = any({{ whole_evaluation_dates().previous }})
        union all
        select
            last_month_end.subject_key,
            last_month_end.evaluation_date,
            last_month_end.grade
        from {{ ref('int_evaluation_targets') }} as targets
        inner join {{ this }} as last_month_end
            on
                targets.subject_key = last_month_end.subject_key
                and last_month_end.evaluation_date = (
                    select max(month_ends.stored_date)
                    from {{ ref('int_evaluation_dates') }} as month_ends
                    where not month_ends.is_current
                )
        where targets.is_current and not targets.is_whole_date
    {%- else %}
        select
            subject_key,
            evaluation_date,
            grade
        from graded
        where false
    {%- endif %}

),

-- The previous date's grade: tonight's, else the stored one.
with_previous as (

    select
        graded.*,
        coalesce(previous.grade, kept.grade) as previous_grade
    from graded
    left join graded as previous
        on
            graded.subject_key = previous.subject_key
            and graded.previous_date = previous.evaluation_date
    left join kept
        on
            graded.subject_key = kept.subject_key
            and graded.previous_date = kept.evaluation_date

),

final as (

    select
        with_previous.subject_key::text as subject_key,
        with_previous.evaluation_date::date as evaluation_date,
        subjects.domain_code::text as domain_code,
        subjects.model_code::text as model_code,
        with_previous.score::numeric(8, 2) as score,
        with_previous.grade::text as grade,
        with_previous.previous_grade::text as previous_grade,
        coalesce(with_previous.public_credit_points, 0)::numeric(8, 2) as public_credit_points,
        coalesce(with_previous.industry_points, 0)::numeric(8, 2) as industry_evaluation_points,
        coalesce(with_previous.market_points, 0)::numeric(8, 2) as market_evaluation_points
    from with_previous
    inner join subjects on with_previous.subject_key = subjects.subject_key

)

select * from final

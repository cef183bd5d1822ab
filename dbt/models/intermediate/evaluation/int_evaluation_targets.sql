{#- The (subject, evaluation date) pairs the incremental evaluation computes tonight: every date of
    a subject whose fingerprint changed since fct_subject_grades was last built (new facts, a
    new or re-classified subject, changed rules), and every subject on the dates not evaluated
    yet or evaluated with another is_current (the as-of date; a month end that entered the
    window; the last night's as-of date, now a month end), and on the window's first date when
    an older one is dropped (its previous_grade becomes null). Before the first build the state
    is empty, so every pair. is_whole_date marks the pairs of a date evaluated for every subject:
    the evaluation marts' pre-hook replaces tonight's pairs by date and by subject, by index. -#}

{{ config(materialized='table') }}


with

dates as (

    select * from {{ ref('int_evaluation_dates') }}

),

subjects as (

    select * from {{ ref('int_subject_domains') }}

),

evaluated_dates as (

    select * from {{ source('evaluation_state', 'evaluated_dates') }}

),

changed_subjects as (

    select fingerprints.subject_key
    from {{ ref('int_evaluation_fingerprints') }} as fingerprints
    left join {{ source('evaluation_state', 'evaluated_inputs') }} as evaluated
        on fingerprints.subject_key = evaluated.subject_key
    where evaluated.inputs_md5 is distinct from fingerprints.inputs_md5

),

changed_dates as (

    select dates.evaluation_date
    from dates
    left join evaluated_dates
        on
            dates.evaluation_date = evaluated_dates.evaluation_date
            and dates.is_current = evaluated_dates.is_current
    where
        evaluated_dates.evaluation_date is null
        or (
            dates.evaluation_date
            = (select min(window_dates.evaluation_date) from dates as window_dates)
            and exists (
                select from evaluated_dates as older
                where older.evaluation_date < dates.evaluation_date
            )
        )

),

pairs as (

    select
        changed_subjects.subject_key,
        dates.evaluation_date
    from changed_subjects
    cross join dates

    union

    select
        subjects.subject_key,
        changed_dates.evaluation_date
    from subjects
    cross join changed_dates

),

final as (

    select
        pairs.subject_key,
        subjects.model_code,
        pairs.evaluation_date,
        dates.is_current,
        (changed_dates.evaluation_date is not null) as is_whole_date
    from pairs
    inner join subjects on pairs.subject_key = subjects.subject_key
    inner join dates on pairs.evaluation_date = dates.evaluation_date
    left join changed_dates on pairs.evaluation_date = changed_dates.evaluation_date

)

select * from final

{#- The (subject, evaluation date) pairs the incremental evaluation computes tonight, keyed by the
    date their rows are stored under (int_evaluation_dates.stored_date: 'infinity' for the as-of
    date's evaluation):
    - every date of a subject whose fingerprint changed since the evaluation was last built (new
      facts, a new or re-classified subject, changed rules);
    - every subject on the month ends not evaluated yet (one that entered the window, the last
      night's as-of date now a month end) and on the window's first date when an older one is
      dropped (its previous_grade becomes null);
    - on the as-of date, every subject when no current evaluation is stored or a month end is
      evaluated whole tonight (the grade before the current one moved); otherwise only the
      subjects whose score can differ from the one stored for the previous as-of date: a fact
      starting, ending or repaired between the two days, or in force and still decaying then.
      The others keep their stored current rows, which hold for tonight's as-of date as well.
    Before the first build the state is empty, so every pair. is_whole_date marks the pairs of a
    date evaluated for every subject: the evaluation's pre-hook replaces tonight's pairs by date
    and by subject, by index. -#}

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

    select subject_key
    from {{ ref('int_evaluation_input_changes') }}
    where inputs_md5 is not null

),

changed_month_ends as (

    select dates.evaluation_date
    from dates
    left join evaluated_dates
        on
            dates.evaluation_date = evaluated_dates.evaluation_date
            and not evaluated_dates.is_current
    where
        not dates.is_current
        and (
            evaluated_dates.evaluation_date is null
            or (
                dates.evaluation_date
                = (select min(window_dates.evaluation_date) from dates as window_dates)
                and exists (
                    select from evaluated_dates as older
                    where older.evaluation_date < dates.evaluation_date
                )
            )
        )

),

-- The as-of date the stored current evaluation holds for (none before the first build) and
-- tonight's, in order.
as_of_move as (

    select
        least(last_as_of.evaluation_date, dates.evaluation_date) as moved_from,
        greatest(last_as_of.evaluation_date, dates.evaluation_date) as moved_to
    from dates
    inner join evaluated_dates as last_as_of on last_as_of.is_current
    where dates.is_current

),

changed_dates as (

    select evaluation_date from changed_month_ends
    union all
    select dates.evaluation_date
    from dates
    where
        dates.is_current
        and (
            not exists (select from as_of_move)
            or exists (select from changed_month_ends)
        )

),

-- How long a fact of each kind and value decays (the longest of any model's indicator).
decays as (

    select
        fact_kind,
        fact_value,
        max(decay_months) as decay_months
    from {{ ref('evaluation_indicators') }}
    where decay_months is not null
    group by fact_kind, fact_value

),

-- Subjects whose score on tonight's as-of date can differ from the stored current one.
moved_subjects as (

    select distinct facts.subject_key
    from {{ ref('int_evaluation_facts') }} as facts
    cross join as_of_move
    left join decays
        on
            facts.fact_kind = decays.fact_kind
            and decays.fact_value in (facts.fact_value, '*')
    where
        (facts.fact_date > as_of_move.moved_from and facts.fact_date <= as_of_move.moved_to)
        or (facts.fact_end > as_of_move.moved_from and facts.fact_end <= as_of_move.moved_to)
        or (
            facts.repaired_date > as_of_move.moved_from
            and facts.repaired_date <= as_of_move.moved_to
        )
        or (
            facts.fact_date <= as_of_move.moved_from
            and (facts.fact_end is null or facts.fact_end > as_of_move.moved_from)
            and as_of_move.moved_from - facts.fact_date < decays.decay_months * 30.4375
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

    union

    select
        moved_subjects.subject_key,
        dates.evaluation_date
    from moved_subjects
    inner join dates on dates.is_current
    where not exists (
        select from changed_dates
        where changed_dates.evaluation_date = dates.evaluation_date
    )

),

final as (

    select
        pairs.subject_key,
        subjects.model_code,
        dates.stored_date as evaluation_date,
        pairs.evaluation_date as reference_date,
        dates.is_current,
        (changed_dates.evaluation_date is not null) as is_whole_date
    from pairs
    inner join subjects on pairs.subject_key = subjects.subject_key
    inner join dates on pairs.evaluation_date = dates.evaluation_date
    left join changed_dates on pairs.evaluation_date = changed_dates.evaluation_date

)

select * from final

{#- grade_fell: a subject's grade fell into one of the rule's `threshold_grades` (e.g. C, D)
    against its previous evaluation, so inspection intensity rises (提高监管频次). Dated by the
    first score-changing fact after the previous evaluation (the evaluation date when none);
    closed at the first later evaluation whose grade is out of the threshold grades. Sent to
    every department supervising the subject's domain (`domain_supervisors`), one warning each:
    they are the ones who raise the inspection intensity; for a subject of no known domain, to
    the departments that recorded something about it. -#}

{{ config(materialized='table') }}


with

rules as (

    select * from {{ ref('int_warning_rules_enabled') }}
    where rule_code = 'grade_fell'

),

grades as (

    select * from {{ ref('fct_subject_grades') }}

),

-- Each evaluation date and the one before it (every subject is evaluated on every date).
dates as (

    select
        evaluation_date,
        lag(evaluation_date) over (order by evaluation_date) as previous_evaluation_date
    from {{ ref('int_evaluation_dates') }}

),

subjects as (

    select * from {{ ref('int_subject_domains') }}

),

facts as (

    select
        subject_key,
        fact_date as event_date
    from {{ ref('int_evaluation_facts') }}
    union
    select
        subject_key,
        fact_end as event_date
    from {{ ref('int_evaluation_facts') }}
    where fact_end is not null

),

-- Read by the partial index of int_subject_grades on the falls (a few thousand rows of millions).
falls as (

    select
        rules.rule_code,
        grades.subject_key,
        grades.evaluation_date,
        dates.previous_evaluation_date,
        grades.previous_grade,
        grades.grade,
        grades.score
    from grades
    inner join dates on grades.evaluation_date = dates.evaluation_date
    cross join rules
    where
        grades.previous_grade is not null
        and grades.grade > grades.previous_grade
        and grades.grade = any(string_to_array(replace(rules.threshold_grades, ' ', ''), ','))

),

first_events as (

    select
        falls.subject_key,
        falls.evaluation_date,
        min(facts.event_date) as first_event_date
    from falls
    inner join facts
        on
            falls.subject_key = facts.subject_key
            and falls.previous_evaluation_date < facts.event_date
            and falls.evaluation_date >= facts.event_date
    group by 1, 2

),

-- The first later evaluation out of the threshold grades, looked up by the subject's index.
recoveries as (

    select
        falls.subject_key,
        falls.evaluation_date,
        recovery.recovery_date
    from falls
    cross join rules
    cross join lateral (
        select min(later.evaluation_date) as recovery_date
        from {{ ref('fct_subject_grades') }} as later
        where
            later.subject_key = falls.subject_key
            and later.evaluation_date > falls.evaluation_date
            and not later.grade = any(
                string_to_array(replace(rules.threshold_grades, ' ', ''), ',')
            )
    ) as recovery

),

dated as (

    select
        falls.*,
        coalesce(first_events.first_event_date, falls.evaluation_date) as raised_date,
        recoveries.recovery_date as closed_date
    from falls
    left join first_events
        on
            falls.subject_key = first_events.subject_key
            and falls.evaluation_date = first_events.evaluation_date
    left join recoveries
        on
            falls.subject_key = recoveries.subject_key
            and falls.evaluation_date = recoveries.evaluation_date

),

fallen_subjects as (

    select distinct
        dated.subject_key,
        subjects.domain_code,
        subjects.industry_section = '*' as has_no_domain
    from dated
    inner join subjects on dated.subject_key = subjects.subject_key

),

-- A subject of no known domain (natural persons, unregistered subjects) is supervised by the
-- departments that recorded something about it; the domain's row of `domain_supervisors` (the
-- credit office) only when none did.
record_departments as (

    select distinct
        fallen_subjects.subject_key,
        records.dept_code
    from fallen_subjects
    inner join {{ ref('fct_credit_records') }} as records
        on fallen_subjects.subject_key = records.subject_key
    where fallen_subjects.has_no_domain

),

recipients as (

    select
        fallen_subjects.subject_key,
        supervisors.dept_code
    from fallen_subjects
    inner join {{ ref('domain_supervisors') }} as supervisors
        on fallen_subjects.domain_code = supervisors.domain_code
    where
        not exists (
            select 1
            from record_departments
            where record_departments.subject_key = fallen_subjects.subject_key
        )
    union all
    select
        subject_key,
        dept_code
    from record_departments

),

final as (

    select
        dated.rule_code,
        dated.subject_key || '|' || dated.previous_evaluation_date::text || '|' || dated.grade
        || '|' || recipients.dept_code as condition_key,
        dated.subject_key,
        recipients.dept_code,
        dated.raised_date,
        dated.closed_date,
        '信用等级由' || dated.previous_grade || '级（' || dated.previous_evaluation_date::text
        || '评价）降为' || dated.grade || '级（' || dated.evaluation_date::text || '评价，得分'
        || dated.score::text || '），应提高抽查比例和频次。' as facts
    from dated
    inner join recipients on dated.subject_key = recipients.subject_key

)

select * from final

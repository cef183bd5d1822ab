{#- 主体属性期间 The division, industry domain and grade each subject with a dishonesty record had
    over time, as the warehouse knew them on the as-of date: one row per subject, dimension and
    period [valid_from, valid_to), the periods of a subject and dimension covering every day
    once. The metrics break the stock down by these, so a subject's records move from one slice
    to another on the day its attribute changed (int_dishonesty_intervals).

    * division and domain: the subject's registration events (登记事件), the latest version known
      of each, not revoked; each in force from its event date to the next one's, the first also
      before it. Several events on one day: the latest version, as dim_subjects picks. The
      domain is the GB/T 4754 section of the industry code (industry_domains, else its '*' row).
      A subject never registered has one period: its division 'unknown', its domain that of
      int_subject_domains.
    * grade: the subject's evaluations (fct_subject_grades: the month ends of the window and
      the as-of date), each in force from its date to the next one's, the first also before it;
      'unrated' throughout for a subject never evaluated. -#}

{{ config(materialized='table', indexes=[{'columns': ['subject_key']}]) }}

with

records as (

    select distinct subject_key
    from {{ ref('fct_dishonesty_records') }}
    where subject_key is not null

),

domains as (

    select * from {{ ref('industry_domains') }}

),

events as (

    select distinct on (known.subject_key, known.event_date)
        known.subject_key,
        known.event_date,
        known.division_code,
        known.industry_code
    from ({{ known_latest(ref('stg_raw__registrations')) }}) as known
    -- The subjects as an array, here and below: their rows are read by the subject_key
    -- indexes. Joined, the planner took the subjects with records (a few percent of the county)
    -- for most of it and read, sorted and merged every registration and every stored grade of
    -- the county: 6.8 s of a night after one year at Jiangyin's size, against 0.5 s.
    where
        known.subject_key = any(array(select recorded.subject_key from records as recorded))
        and known.change_type_code <> 'revoke'
        and known.event_date is not null
    order by
        known.subject_key asc,
        known.event_date asc,
        known.updated_at desc,
        known.raw_row_id desc

),

registered as (

    select
        events.subject_key,
        case
            when row_number() over by_date = 1 then '-infinity'::date else events.event_date
        end as valid_from,
        coalesce(lead(events.event_date) over by_date, 'infinity'::date) as valid_to,
        coalesce(events.division_code, 'unknown') as division_code,
        coalesce(by_section.domain_code, fallback.domain_code) as domain_code
    from events
    left join domains as by_section on left(events.industry_code, 1) = by_section.industry_section
    inner join domains as fallback on fallback.industry_section = '*'
    window by_date as (partition by events.subject_key order by events.event_date)

),

unregistered as (

    select
        records.subject_key,
        '-infinity'::date as valid_from,
        'infinity'::date as valid_to,
        'unknown' as division_code,
        coalesce(subjects.domain_code, 'other') as domain_code
    from records
    left join {{ ref('int_subject_domains') }} as subjects
        on
            records.subject_key = subjects.subject_key
            and subjects.subject_key = any(
                array(select recorded.subject_key from records as recorded)
            )
    where not exists (
        select from registered
        where registered.subject_key = records.subject_key
    )

),

places as (

    select * from registered
    union all
    select * from unregistered

),

evaluations as (

    -- The as-of date's grade when it is also a month end.
    select distinct on (grades.subject_key, grades.evaluation_date)
        grades.subject_key,
        grades.evaluation_date,
        grades.grade
    from {{ ref('fct_subject_grades') }} as grades
    where grades.subject_key = any(array(select recorded.subject_key from records as recorded))
    order by grades.subject_key asc, grades.evaluation_date asc, grades.is_current desc

),

graded as (

    select
        subject_key,
        case
            when row_number() over by_date = 1 then '-infinity'::date else evaluation_date
        end as valid_from,
        coalesce(lead(evaluation_date) over by_date, 'infinity'::date) as valid_to,
        grade
    from evaluations
    window by_date as (partition by subject_key order by evaluation_date)

),

ungraded as (

    select
        records.subject_key,
        '-infinity'::date as valid_from,
        'infinity'::date as valid_to,
        'unrated' as grade
    from records
    where not exists (
        select from graded
        where graded.subject_key = records.subject_key
    )

),

grades as (

    select * from graded
    union all
    select * from ungraded

),

final as (

    select
        subject_key,
        'division' as dimension,
        division_code as dimension_value,
        valid_from,
        valid_to
    from places
    union all
    select
        subject_key,
        'domain' as dimension,
        domain_code as dimension_value,
        valid_from,
        valid_to
    from places
    union all
    select
        subject_key,
        'grade' as dimension,
        grade as dimension_value,
        valid_from,
        valid_to
    from grades

)

select * from final

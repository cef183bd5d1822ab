{#- Each dishonesty record as an interval in the stock (失信存量): in stock on day d when
    decision_date <= d < exit_date (exit_date null: still active), with the value of every
    dimension the metrics break it down by. The grade is the subject's grade on the as-of
    date, a fixed attribute, so a subject never moves between grade slices.

    A table: the subjects' spells and the daily flows both read it (as a view, each computed
    it). -#}

{{ config(materialized='table') }}

with

records as (

    select * from {{ ref('fct_dishonesty_records') }}

),

subjects as (

    select * from {{ ref('int_subject_domains') }}

),

grades as (

    select
        subject_key,
        grade
    from {{ ref('fct_subject_grades') }}
    -- The current grades (is_current), by the evaluation_date index.
    where evaluation_date = (select as_of.as_of_date from {{ ref('int_lifecycle_as_of') }} as as_of)

),

intervals as (

    select
        records.decision_doc_no,
        records.subject_key,
        records.decision_date as start_date,
        -- greatest() skips nulls: an active record (no exit) must keep a null end.
        case
            when records.exit_date is not null
                then greatest(records.exit_date, records.decision_date)
        end as end_date,
        case records.exit_reason
            when 'correction' then 'revocation'
            else records.exit_reason
        end as exit_reason,
        records.dept_code,
        coalesce(subjects.domain_code, 'other') as domain_code,
        coalesce(subjects.division_code, 'unknown') as division_code,
        records.severity_code,
        coalesce(records.subject_type_code, 'unknown') as subject_type_code,
        coalesce(grades.grade, 'unrated') as grade
    from records
    left join subjects on records.subject_key = subjects.subject_key
    left join grades on records.subject_key = grades.subject_key
    where records.decision_date is not null

),

final as (

    select
        intervals.decision_doc_no,
        intervals.subject_key,
        intervals.start_date,
        intervals.end_date,
        intervals.exit_reason,
        dimensions.dimension,
        dimensions.dimension_value
    from intervals
    cross join lateral (
        values
        ('all', 'all'),
        ('department', intervals.dept_code),
        ('domain', intervals.domain_code),
        ('division', intervals.division_code),
        ('severity', intervals.severity_code),
        ('subject_type', intervals.subject_type_code),
        ('grade', intervals.grade)
    ) as dimensions (dimension, dimension_value)

)

select * from final

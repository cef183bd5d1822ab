{#- Each dishonesty record as an interval in the stock (失信存量): in stock on day d when
    decision_date <= d < exit_date (exit_date null: still active), with the value of every
    dimension the metrics break it down by. Department, severity and subject type are the
    record's own; division, domain and grade are the subject's, which change over time
    (int_dishonesty_subject_periods): a record is split where its subject's attribute changed,
    the part before ending by transfer (exit_reason 'transfer') and the part after starting by
    one (starts_by_transfer), so each day counts it in the slice its subject was in that day.

    A table: the subjects' spells and the daily flows both read it (as a view, each computed
    it). -#}

{{ config(materialized='table') }}

with

records as (

    select * from {{ ref('fct_dishonesty_records') }}

),

periods as (

    select * from {{ ref('int_dishonesty_subject_periods') }}

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
        records.severity_code,
        coalesce(records.subject_type_code, 'unknown') as subject_type_code
    from records
    where records.decision_date is not null

),

record_dimensions as (

    select
        intervals.decision_doc_no,
        intervals.subject_key,
        intervals.start_date,
        intervals.end_date,
        intervals.exit_reason,
        false as starts_by_transfer,
        dimensions.dimension,
        dimensions.dimension_value
    from intervals
    cross join lateral (
        values
        ('all', 'all'),
        ('department', intervals.dept_code),
        ('severity', intervals.severity_code),
        ('subject_type', intervals.subject_type_code)
    ) as dimensions (dimension, dimension_value)

),

-- Each part of a record in one period of its subject's attribute: the periods that overlap
-- [start, end), or, for a record that ended the day it began, the period holding that day.
-- The part ends by transfer when the period ends before the record does.
period_parts as (

    select
        intervals.*,
        periods.dimension,
        periods.dimension_value,
        periods.valid_from,
        periods.valid_to,
        periods.valid_to < coalesce(intervals.end_date, 'infinity'::date) as ends_by_transfer
    from intervals
    inner join periods
        on
            intervals.subject_key = periods.subject_key
            and intervals.start_date < periods.valid_to
            and greatest(coalesce(intervals.end_date, 'infinity'::date), intervals.start_date + 1)
            > periods.valid_from

),

subject_dimensions as (

    select
        decision_doc_no,
        subject_key,
        greatest(start_date, valid_from) as start_date,
        case when ends_by_transfer then valid_to else end_date end as end_date,
        case when ends_by_transfer then 'transfer' else exit_reason end as exit_reason,
        valid_from > start_date as starts_by_transfer,
        dimension,
        dimension_value
    from period_parts

),

-- A record naming no subject: no subject's attribute, the values for unknown.
subjectless as (

    select
        intervals.decision_doc_no,
        intervals.subject_key,
        intervals.start_date,
        intervals.end_date,
        intervals.exit_reason,
        false as starts_by_transfer,
        dimensions.dimension,
        dimensions.dimension_value
    from intervals
    cross join (
        values ('division', 'unknown'), ('domain', 'other'), ('grade', 'unrated')
    ) as dimensions (dimension, dimension_value)
    where intervals.subject_key is null

),

final as (

    select * from record_dimensions
    union all
    select * from subject_dimensions
    union all
    select * from subjectless

)

select * from final

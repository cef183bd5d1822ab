{#- 部门考核明细 The itemised department scorecard (政务诚信建设专项监测评价): per quarter of the
    monitoring window, department and indicator of department_scorecard_indicators, what was
    measured (numerator of denominator), the rate, its weight and the points it earns. An
    indicator with nothing to measure (denominator 0) has a null rate and earns nothing; the score
    (rpt_department_scorecard) is taken over the weights of the measured ones. -#}
with

as_of as (

    select as_of_date from {{ ref('int_lifecycle_as_of') }}

),

quarters as (

    select * from {{ ref('int_monitoring_quarters') }}

),

departments as (

    select * from {{ ref('departments') }}

),

indicators as (

    select * from {{ ref('department_scorecard_indicators') }}

),

-- The nights the warehouse collected each department (one volume check a night and department),
-- and whether its system could be read and its volume was as expected.
nights as (

    select
        quarters.quarter_label,
        checks.dept_code,
        checks.logical_date,
        checks.status = 'passed' as volume_passed,
        exists(
            select from {{ source('audit', 'source_errors') }} as errors
            where
                errors.dept_code = checks.dept_code
                and errors.logical_date = checks.logical_date
        ) as read_failed
    from {{ source('audit_collection', 'collection_checks') }} as checks
    inner join quarters
        on checks.logical_date between quarters.quarter_start and quarters.quarter_end
    cross join as_of
    where checks.logical_date <= as_of.as_of_date

),

collection_nights as (

    select
        quarter_label,
        dept_code,
        count(*) as nights,
        count(*) filter (where not read_failed) as nights_read,
        count(*) filter (where volume_passed) as nights_complete
    from nights
    group by quarter_label, dept_code

),

collection as (

    select * from {{ ref('rpt_collection_by_department') }}

),

-- Interviews due in the quarter (约谈应完成日 in it, reached by the as-of date): a record's
-- reminder interview and its warning interview each count.
interviews as (

    select
        dept_code,
        reminder_interview_due_date as due_date,
        reminder_interview_date as held_date
    from {{ ref('fct_dishonesty_records') }}
    where reminder_interview_due_date is not null
    union all
    select
        dept_code,
        warning_interview_due_date as due_date,
        warning_interview_date as held_date
    from {{ ref('fct_dishonesty_records') }}
    where warning_interview_due_date is not null

),

interviews_due as (

    select
        quarters.quarter_label,
        interviews.dept_code,
        count(*) as due,
        count(*) filter (where interviews.held_date <= interviews.due_date) as held_on_time
    from interviews
    inner join quarters
        on interviews.due_date between quarters.quarter_start and quarters.quarter_end
    cross join as_of
    where interviews.due_date <= as_of.as_of_date
    group by quarters.quarter_label, interviews.dept_code

),

warnings_in_time as (

    select threshold_days from indicators
    where indicator_code = 'warnings_closed_in_time'

),

-- Warnings raised in the quarter, by the department responsible (谁认定、谁负责).
warnings as (

    select
        quarters.quarter_label,
        warnings.responsible_dept_code as dept_code,
        count(*) as raised,
        count(warnings.closed_date) as closed,
        -- Judged once the allowed days passed or the warning closed.
        count(*) filter (
            where
            warnings.closed_date is not null
            or warnings.raised_date + in_time.threshold_days <= as_of.as_of_date
        ) as closing_due,
        count(*) filter (
            where warnings.closed_date <= warnings.raised_date + in_time.threshold_days
        ) as closed_in_time
    from {{ ref('fct_warnings') }} as warnings
    inner join quarters
        on warnings.raised_date between quarters.quarter_start and quarters.quarter_end
    cross join as_of
    cross join warnings_in_time as in_time
    group by quarters.quarter_label, warnings.responsible_dept_code

),

progress_deadline as (

    select
        quarters.quarter_label,
        (quarters.quarter_end + indicators.threshold_days)::date as deadline
    from quarters
    cross join indicators
    where indicators.indicator_code = 'progress_on_time'

),

progress as (

    select
        quarter as quarter_label,
        dept_code,
        max(submitted_date) as submitted_date
    from {{ ref('rpt_progress_reports') }}
    group by quarter, dept_code

),

-- Attachment 2: judged once submitted or once its deadline passed.
progress_judged as (

    select
        progress_deadline.quarter_label,
        departments.dept_code,
        progress_deadline.deadline,
        progress.submitted_date,
        (
            progress.submitted_date is not null
            or progress_deadline.deadline < as_of.as_of_date
        ) as judged,
        coalesce(progress.submitted_date <= progress_deadline.deadline, false) as on_time
    from progress_deadline
    cross join departments
    cross join as_of
    left join progress
        on
            progress_deadline.quarter_label = progress.quarter_label
            and departments.dept_code = progress.dept_code

),

measured as (

    select
        quarters.quarter_label,
        departments.dept_code,
        departments.name_zh as dept_name,
        coalesce(collection_nights.nights, 0) as nights,
        coalesce(collection_nights.nights_read, 0) as nights_read,
        coalesce(collection_nights.nights_complete, 0) as nights_complete,
        coalesce(collection.rows_received, 0) as rows_received,
        coalesce(collection.rows_accepted, 0) as rows_accepted,
        coalesce(interviews_due.due, 0) as interviews_due,
        coalesce(interviews_due.held_on_time, 0) as interviews_held_on_time,
        coalesce(warnings.raised, 0) as warnings_raised,
        coalesce(warnings.closed, 0) as warnings_closed,
        coalesce(warnings.closing_due, 0) as warnings_closing_due,
        coalesce(warnings.closed_in_time, 0) as warnings_closed_in_time,
        progress_judged.judged::integer as progress_judged,
        (progress_judged.judged and progress_judged.on_time)::integer as progress_on_time
    from quarters
    cross join departments
    left join collection_nights
        on
            quarters.quarter_label = collection_nights.quarter_label
            and departments.dept_code = collection_nights.dept_code
    left join collection
        on
            quarters.quarter_label = collection.quarter_label
            and departments.dept_code = collection.dept_code
    left join interviews_due
        on
            quarters.quarter_label = interviews_due.quarter_label
            and departments.dept_code = interviews_due.dept_code
    left join warnings
        on
            quarters.quarter_label = warnings.quarter_label
            and departments.dept_code = warnings.dept_code
    left join progress_judged
        on
            quarters.quarter_label = progress_judged.quarter_label
            and departments.dept_code = progress_judged.dept_code

),

-- One row per indicator: (numerator, denominator) as the seed's codes name them.
items as (

    select
        measured.quarter_label,
        measured.dept_code,
        measured.dept_name,
        item.indicator_code,
        item.numerator,
        item.denominator
    from measured
    cross join lateral (
        values
        ('collection_timeliness', measured.nights_read, measured.nights),
        ('collection_completeness', measured.nights_complete, measured.nights),
        ('accepted_share', measured.rows_accepted, measured.rows_received),
        (
            'interviews_on_time',
            measured.interviews_held_on_time,
            measured.interviews_due
        ),
        ('warnings_closed', measured.warnings_closed, measured.warnings_raised),
        (
            'warnings_closed_in_time',
            measured.warnings_closed_in_time,
            measured.warnings_closing_due
        ),
        ('progress_on_time', measured.progress_on_time, measured.progress_judged)
    ) as item (indicator_code, numerator, denominator)

),

final as (

    select
        items.quarter_label::text as quarter_label,
        items.dept_code::text as dept_code,
        items.dept_name::text as dept_name,
        items.indicator_code::text as indicator_code,
        indicators.indicator_zh::text as indicator_zh,
        items.numerator::bigint as numerator,
        items.denominator::bigint as denominator,
        (
            items.numerator::double precision / nullif(items.denominator, 0)
        )::double precision as rate,
        indicators.weight::numeric as weight,
        (
            indicators.weight * items.numerator::numeric / nullif(items.denominator, 0)
        )::numeric(8, 2) as points,
        as_of.as_of_date::date as as_of_date
    from items
    inner join indicators on items.indicator_code = indicators.indicator_code
    cross join as_of

)

select * from final

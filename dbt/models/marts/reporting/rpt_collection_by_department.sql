{#- 归集情况 Collection per department and quarter of the monitoring window: batches landed for
    the quarter's nights (up to the as-of date), rows received, accepted and quarantined, the
    quarantined share, files rejected whole, failed reads of the department's system, and the
    Attachment 2 rows it reported for the quarter. Every department has a row, 0 when it sent
    nothing. -#}
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

batches as (

    select
        quarters.quarter_label,
        batches.dept_code,
        count(*) as batches,
        sum(batches.rows_read) as rows_received,
        sum(batches.rows_accepted) as rows_accepted,
        sum(batches.rows_quarantined) as rows_quarantined
    from {{ source('audit', 'batches') }} as batches
    inner join quarters
        on batches.logical_date between quarters.quarter_start and quarters.quarter_end
    cross join as_of
    where batches.logical_date <= as_of.as_of_date
    group by quarters.quarter_label, batches.dept_code

),

rejected_files as (

    select
        quarters.quarter_label,
        files.dept_code,
        count(*) as rejected_files
    from {{ source('quarantine', 'rejected_files') }} as files
    inner join quarters
        on files.logical_date between quarters.quarter_start and quarters.quarter_end
    cross join as_of
    where files.logical_date <= as_of.as_of_date
    group by quarters.quarter_label, files.dept_code

),

source_errors as (

    select
        quarters.quarter_label,
        errors.dept_code,
        count(*) as source_errors
    from {{ source('audit', 'source_errors') }} as errors
    inner join quarters
        on errors.logical_date between quarters.quarter_start and quarters.quarter_end
    cross join as_of
    where errors.logical_date <= as_of.as_of_date
    group by quarters.quarter_label, errors.dept_code

),

progress_rows as (

    select
        quarter as quarter_label,
        dept_code,
        count(*) as progress_rows
    from {{ ref('rpt_progress_reports') }}
    group by quarter, dept_code

),

final as (

    select
        quarters.quarter_label::text as quarter_label,
        quarters.quarter_start::date as quarter_start,
        quarters.quarter_end::date as quarter_end,
        departments.dept_code::text as dept_code,
        departments.name_zh::text as dept_name,
        coalesce(batches.batches, 0)::bigint as batches,
        coalesce(batches.rows_received, 0)::bigint as rows_received,
        coalesce(batches.rows_accepted, 0)::bigint as rows_accepted,
        coalesce(batches.rows_quarantined, 0)::bigint as rows_quarantined,
        (
            batches.rows_quarantined::double precision / nullif(batches.rows_received, 0)
        )::double precision as quarantined_share,
        coalesce(rejected_files.rejected_files, 0)::bigint as rejected_files,
        coalesce(source_errors.source_errors, 0)::bigint as source_errors,
        coalesce(progress_rows.progress_rows, 0)::bigint as progress_rows
    from quarters
    cross join departments
    left join batches
        on
            quarters.quarter_label = batches.quarter_label
            and departments.dept_code = batches.dept_code
    left join rejected_files
        on
            quarters.quarter_label = rejected_files.quarter_label
            and departments.dept_code = rejected_files.dept_code
    left join source_errors
        on
            quarters.quarter_label = source_errors.quarter_label
            and departments.dept_code = source_errors.dept_code
    left join progress_rows
        on
            quarters.quarter_label = progress_rows.quarter_label
            and departments.dept_code = progress_rows.dept_code

)

select * from final

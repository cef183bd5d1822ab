{#- 推进情况报送 The departments' Attachment 2 rows (附件2 推进情况季度报送表) as they stood on
    the as-of date: the latest version known then of each (department, quarter, row number)
    not revoked, with the department's name. -#}
with

reports as (

    select * from ({{ known_latest(ref('stg_raw__progress_reports')) }}) as known
    where change_type_code <> 'revoke'

),

departments as (

    select * from {{ ref('departments') }}

),

final as (

    select
        reports.dept_code::text as dept_code,
        coalesce(departments.name_zh, reports.dept_code)::text as dept_name,
        reports.quarter::text as quarter,
        reports.seq_no::integer as seq_no,
        reports.policy_documents::text as policy_documents,
        reports.policy_source::text as policy_source,
        reports.key_measures::text as key_measures,
        reports.implementation_progress::text as implementation_progress,
        reports.achievements::text as achievements,
        reports.problems_and_suggestions::text as problems_and_suggestions,
        reports.submitted_date::date as submitted_date,
        reports.raw_row_id::bigint as raw_row_id
    from reports
    left join departments on reports.dept_code = departments.dept_code

)

select * from final

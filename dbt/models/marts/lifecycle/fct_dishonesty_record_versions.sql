{#- Every version of every dishonesty record known on the as-of date (可查可核可溯): the original
    identification, its corrections (更正) and its revocation (撤销), each with the rules as
    they applied to that version, the period it was the current one and its cause: the
    identification, an objection (异议, named by number, outcome and closing row) or the
    department's own decision (int_dishonesty_changes_attributed). -#}

with

as_of as (

    select * from {{ ref('int_lifecycle_as_of') }}

),

versions as (

    select * from {{ ref('int_dishonesty_versions_ruled') }}

),

changes as (

    select * from {{ ref('int_dishonesty_changes_attributed') }}

),

known as (

    select
        versions.*,
        case
            when {{ known_on_as_of('versions', 'superseded_on_night') }} then versions.superseded_at
        end as valid_to,
        row_number() over (
            partition by versions.decision_doc_no order by versions.version_number desc
        ) = 1 as is_current
    from versions
    cross join as_of
    where {{ known_on_as_of('versions') }}

),

caused as (

    select
        known.*,
        -- Every correction and revocation has its change; what is left is an identification.
        coalesce(changes.change_cause_code, 'identification') as change_cause_code,
        coalesce(changes.change_cause, '认定部门' || known.change_type) as change_cause,
        changes.objection_no,
        changes.objection_outcome_date,
        changes.objection_raw_row_id,
        changes.objection_batch_id
    from known
    left join changes
        on
            known.decision_doc_no = changes.decision_doc_no
            and known.version_number = changes.version_number

),

final as (

    select
        dishonesty_version_key::text as dishonesty_version_key,
        decision_doc_no::text as decision_doc_no,
        version_number::integer as version_number,
        is_current::boolean as is_current,
        change_type_code::text as change_type_code,
        change_type::text as change_type,
        change_cause_code::text as change_cause_code,
        change_cause::text as change_cause,
        objection_no::text as objection_no,
        objection_outcome_date::date as objection_outcome_date,
        objection_raw_row_id::bigint as objection_raw_row_id,
        objection_batch_id::bigint as objection_batch_id,
        updated_at::timestamptz as valid_from,
        valid_to::timestamptz as valid_to,
        known_date::date as known_date,
        dept_code::text as dept_code,
        subject_key::text as subject_key,
        behaviour_code::text as behaviour_code,
        sent_severity_code::text as sent_severity_code,
        severity_code::text as severity_code,
        severity_source::text as severity_source,
        severity_changed::boolean as severity_changed,
        decision_date::date as decision_date,
        rectification_deadline::date as rectification_deadline,
        publicity_min_end::date as publicity_min_end,
        publicity_max_end::date as publicity_end,
        sent_publicity_until::date as sent_publicity_until,
        remarks::text as remarks,
        record_id::text as record_id,
        raw_row_id::bigint as raw_row_id,
        batch_id::bigint as batch_id,
        source_ref::text as source_ref,
        logical_date::date as logical_date
    from caused

)

select * from final

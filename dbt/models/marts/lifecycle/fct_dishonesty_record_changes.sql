{#- The change log (变更日志) of dishonesty records known on the as-of date: every correction,
    revocation and confirmation after identification, with its cause (an objection, named by
    its number and closing row, or the department's own decision), the version that applied
    it and whether it took the record out of the stock (存量).  Attribution rules in
    int_dishonesty_changes_attributed. -#}

with

changes as (

    select * from {{ ref('int_dishonesty_changes_attributed') }}

),

states as (

    select * from {{ ref('int_dishonesty_states_asof') }}

),

final as (

    select
        changes.change_key::text as change_key,
        changes.decision_doc_no::text as decision_doc_no,
        states.as_of_date::date as as_of_date,
        states.dept_code::text as dept_code,
        states.subject_key::text as subject_key,
        states.subject_name::text as subject_name,
        changes.change_date::date as change_date,
        changes.change_type_code::text as change_type_code,
        changes.change_type::text as change_type,
        changes.change_cause_code::text as change_cause_code,
        changes.change_cause::text as change_cause,
        coalesce(
            changes.change_type_code in ('correct', 'revoke')
            and states.exit_reason in ('revocation', 'correction')
            and states.exit_date = changes.change_date,
            false
        )::boolean as left_stock,
        changes.version_pending::boolean as version_pending,
        changes.objection_no::text as objection_no,
        changes.objection_dept_code::text as objection_dept_code,
        changes.objection_filed_date::date as objection_filed_date,
        changes.objection_outcome_date::date as objection_outcome_date,
        changes.objection_raw_row_id::bigint as objection_raw_row_id,
        changes.objection_batch_id::bigint as objection_batch_id,
        changes.objection_source_ref::text as objection_source_ref,
        changes.version_number::integer as version_number,
        changes.version_known_date::date as version_known_date,
        changes.version_remarks::text as version_remarks,
        changes.version_raw_row_id::bigint as version_raw_row_id,
        changes.version_batch_id::bigint as version_batch_id,
        changes.version_source_ref::text as version_source_ref
    from changes
    inner join states on changes.decision_doc_no = states.decision_doc_no

)

select * from final

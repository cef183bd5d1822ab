{#- One row per dishonesty record (失信行为认定, key decision_doc_no) in its state on the as-of
    date: see int_dishonesty_states_asof for the rules and `as_of_date` for the date. -#}

with

states as (

    select * from {{ ref('int_dishonesty_states_asof') }}

),

-- The subject's industry section: the departments supervising it read the record too.
domains as (

    select
        subject_key,
        industry_section
    from {{ ref('int_subject_domains') }}

),

located as (

    select
        states.*,
        coalesce(domains.industry_section, '*') as industry_section
    from states
    left join domains on states.subject_key = domains.subject_key

),

final as (

    select
        decision_doc_no::text as decision_doc_no,
        as_of_date::date as as_of_date,
        dept_code::text as dept_code,
        subject_key::text as subject_key,
        industry_section::text as industry_section,
        subject_name::text as subject_name,
        subject_type_code::text as subject_type_code,
        behaviour_code::text as behaviour_code,
        behaviour::text as behaviour,
        sent_severity_code::text as sent_severity_code,
        severity_code::text as severity_code,
        severity_source::text as severity_source,
        decision_date::date as decision_date,
        publicity_start::date as publicity_start,
        publicity_min_end::date as publicity_min_end,
        publicity_end::date as publicity_end,
        repair_allowed_after::text as repair_allowed_after,
        repair_eligible_date::date as repair_eligible_date,
        early_end_barred::boolean as early_end_barred,
        rectification_deadline::date as rectification_deadline,
        rectification_completion_date::date as rectification_completion_date,
        rectification_outcome::text as rectification_outcome,
        reminder_interview_due_date::date as reminder_interview_due_date,
        reminder_interview_date::date as reminder_interview_date,
        warning_interview_due_date::date as warning_interview_due_date,
        warning_interview_date::date as warning_interview_date,
        repair_application_date::date as repair_application_date,
        repair_decision_code::text as repair_decision_code,
        repair_decision_date::date as repair_decision_date,
        repair_approved_date::date as repair_approved_date,
        repair_before_min_period::boolean as repair_before_min_period,
        objection_no::text as objection_no,
        objection_state::text as objection_state,
        objection_filed_date::date as objection_filed_date,
        objection_outcome::text as objection_outcome,
        objection_outcome_date::date as objection_outcome_date,
        under_objection::boolean as under_objection,
        exit_date::date as exit_date,
        exit_reason::text as exit_reason,
        is_active::boolean as is_active,
        record_status::text as record_status,
        record_status_zh::text as record_status_zh,
        joint_punishment::boolean as joint_punishment,
        applicable_measures::text as applicable_measures,
        applicable_measures_zh::text as applicable_measures_zh,
        current_version_number::integer as current_version_number,
        version_count::integer as version_count,
        current_change_type_code::text as current_change_type_code,
        first_known_date::date as first_known_date,
        last_corrected_date::date as last_corrected_date,
        current_raw_row_id::bigint as current_raw_row_id
    from located

)

select * from final

{#- The state of every dishonesty record on the as-of date (int_lifecycle_as_of): only versions
    and follow-ups known by then count, so any past day can be reconstructed.  The rules come
    from the seeds through int_dishonesty_versions_ruled; this model only combines dates. -#}

with

as_of as (

    select * from {{ ref('int_lifecycle_as_of') }}

),

versions as (

    select * from {{ ref('int_dishonesty_versions_ruled') }}

),

followups as (

    select * from {{ ref('int_dishonesty_followups_asof') }}

),

penalty_versions as (

    select * from {{ ref('stg_raw__penalties') }}

),

non_repairable_penalties as (

    select * from {{ ref('non_repairable_penalties') }}

),

known_versions as (

    select
        versions.*,
        as_of.as_of_date,
        row_number() over (
            partition by versions.decision_doc_no order by versions.version_number desc
        ) as known_rank,
        count(*) over (partition by versions.decision_doc_no) as known_version_count,
        min(versions.known_date) over (
            partition by versions.decision_doc_no
        ) as first_known_date,
        max(versions.known_date) filter (where versions.severity_changed) over (
            partition by versions.decision_doc_no
        ) as severity_corrected_date,
        max(versions.known_date) filter (where versions.change_type_code = 'correct') over (
            partition by versions.decision_doc_no
        ) as last_corrected_date
    from versions
    cross join as_of
    where
        {{ known_on_as_of('versions') }}
        and versions.decision_date <= as_of.as_of_date

),

current_versions as (

    select * from known_versions
    where known_rank = 1

),

known_penalties as (

    select
        penalty_versions.subject_key,
        penalty_versions.dept_code,
        penalty_versions.violation_type,
        penalty_versions.penalty_category,
        penalty_versions.change_type_code,
        row_number() over (
            partition by penalty_versions.penalty_doc_no
            order by penalty_versions.updated_at desc, penalty_versions.raw_row_id desc
        ) as known_rank
    from penalty_versions
    cross join as_of
    where
        {{ known_on_as_of('penalty_versions') }}
        and penalty_versions.decision_date <= as_of.as_of_date

),

barring_penalties as (

    -- A penalty of a category that can never end early (SAMR Order 45), given by the same
    -- department to the same subject for the same behaviour, bars early exit by repair.
    select distinct
        known_penalties.subject_key,
        known_penalties.dept_code,
        known_penalties.violation_type
    from known_penalties
    inner join non_repairable_penalties
        on known_penalties.penalty_category = non_repairable_penalties.penalty_category
    where known_penalties.known_rank = 1 and known_penalties.change_type_code <> 'revoke'

),

combined as (

    select
        current_versions.*,
        followups.rectification_completion_date,
        followups.reminder_interview_date,
        followups.warning_interview_date,
        followups.repair_application_date,
        followups.repair_decision_code,
        followups.repair_decision_date,
        followups.repair_approved_date,
        followups.objection_no,
        followups.objection_filed_date,
        followups.objection_outcome_code,
        followups.objection_outcome_date,
        followups.objection_revocation_date,
        barring_penalties.subject_key is not null as early_end_barred
    from current_versions
    left join followups
        on current_versions.decision_doc_no = followups.dishonesty_doc_no
    left join barring_penalties
        on
            current_versions.subject_key = barring_penalties.subject_key
            and current_versions.dept_code = barring_penalties.dept_code
            and current_versions.behaviour = barring_penalties.violation_type

),

exit_candidates as (

    select
        combined.*,
        -- Revoked by the department's 撤销 version (on the day it was received) or by an
        -- objection closed with 撤销 (on its outcome date), whichever came first.
        least(
            case
                when combined.change_type_code = 'revoke' then combined.known_date
            end,
            combined.objection_revocation_date
        ) as revocation_exit_date,
        -- A correction that shortens the period past its own date ends the record on that day.
        case
            when combined.publicity_max_end <= combined.severity_corrected_date
                then combined.severity_corrected_date
        end as correction_exit_date,
        -- A repair approved before the minimum publicity period ends (a rule violation, marked
        -- repair_before_min_period) ends the record only when that period has.
        case
            when
                not combined.early_end_barred
                and combined.repair_approved_date is not null
                and greatest(combined.repair_approved_date, combined.publicity_min_end)
                <= combined.as_of_date
                then greatest(combined.repair_approved_date, combined.publicity_min_end)
        end as repair_exit_date,
        coalesce(combined.repair_approved_date < combined.publicity_min_end, false)
            as repair_before_min_period,
        case
            when
                combined.publicity_max_end <= combined.as_of_date
                and not coalesce(
                    combined.publicity_max_end <= combined.severity_corrected_date, false
                )
                then combined.publicity_max_end
        end as expiry_exit_date
    from combined

),

exits as (

    select
        exit_candidates.*,
        least(
            exit_candidates.revocation_exit_date,
            exit_candidates.correction_exit_date,
            exit_candidates.repair_exit_date,
            exit_candidates.expiry_exit_date
        ) as exit_date
    from exit_candidates

),

ruled as (

    select
        exits.*,
        case exits.exit_date
            when exits.revocation_exit_date then 'revocation'
            when exits.correction_exit_date then 'correction'
            when exits.repair_exit_date then 'repair'
            when exits.expiry_exit_date then 'expiry'
        end as exit_reason,
        case
            when exits.rectification_deadline is null then 'not_required'
            when exits.rectification_completion_date <= exits.rectification_deadline
                then 'in_time'
            when exits.rectification_completion_date is not null then 'late'
            when exits.rectification_deadline < exits.as_of_date then 'not_rectified'
            else 'pending'
        end as rectification_outcome,
        coalesce(
            exits.rectification_deadline < exits.as_of_date
            and not coalesce(
                exits.rectification_completion_date <= exits.rectification_deadline, false
            )
            and not coalesce(exits.exit_date <= exits.rectification_deadline, false),
            false
        ) as interview_due,
        case
            when exits.early_end_barred then null
            when exits.repair_allowed_after = 'min_period' then exits.publicity_min_end
            when exits.rectification_deadline is null then exits.publicity_min_end
            -- obligations_met: not before the rectification is done (greatest() skips nulls).
            when exits.rectification_completion_date is not null
                then greatest(exits.publicity_min_end, exits.rectification_completion_date)
        end as repair_eligible_date,
        case
            when exits.objection_no is null then 'none'
            when exits.objection_outcome_code is null then 'pending'
            else 'closed'
        end as objection_state,
        case exits.objection_outcome_code
            when 'upheld' then 'confirm'
            when 'corrected' then 'correct'
            when 'revoked' then 'revoke'
        end as objection_outcome
    from exits

),

final as (

    select
        decision_doc_no,
        as_of_date,
        dept_code,
        subject_key,
        subject_name,
        subject_type_code,
        behaviour_code,
        behaviour,
        sent_severity_code,
        severity_code,
        severity_source,
        decision_date,
        decision_date as publicity_start,
        publicity_min_end,
        publicity_max_end as publicity_end,
        repair_allowed_after,
        repair_eligible_date,
        early_end_barred,
        rectification_deadline,
        rectification_completion_date,
        rectification_outcome,
        case
            when interview_due and interview_type_code = 'reminder' then interview_due_date
        end as reminder_interview_due_date,
        reminder_interview_date,
        case
            when interview_due and interview_type_code = 'warning' then interview_due_date
        end as warning_interview_due_date,
        warning_interview_date,
        repair_application_date,
        repair_decision_code,
        repair_decision_date,
        repair_approved_date,
        repair_before_min_period,
        objection_no,
        objection_state,
        objection_filed_date,
        objection_outcome,
        objection_outcome_date,
        objection_state = 'pending' and exit_date is null as under_objection,
        exit_date,
        exit_reason,
        exit_date is null as is_active,
        case
            when exit_date is not null then 'exited'
            when objection_state = 'pending' then 'under_objection'
            else 'active'
        end as record_status,
        case
            when exit_date is not null then '已退出'
            when objection_state = 'pending' then '异议中'
            else '有效'
        end as record_status_zh,
        joint_punishment,
        applicable_measures,
        applicable_measures_zh,
        version_number as current_version_number,
        known_version_count as version_count,
        change_type_code as current_change_type_code,
        first_known_date,
        last_corrected_date,
        raw_row_id as current_raw_row_id
    from ruled

)

select * from final

{#- 失信全流程 What each department did with its dishonesty records (谁认定、谁负责) in each quarter
    of the monitoring window: rectifications due and how they ended, interviews due and held,
    repairs applied for and decided, exits by repair, objections filed, closed and by outcome,
    and those still pending at the quarter's end. A department with no dishonesty record has no
    row. -#}
with

quarters as (

    select * from {{ ref('int_monitoring_quarters') }}

),

records as (

    select * from {{ ref('fct_dishonesty_records') }}

),

final as (

    select
        quarters.quarter_label::text as quarter_label,
        quarters.quarter_start::date as quarter_start,
        quarters.quarter_end::date as quarter_end,
        records.dept_code::text as dept_code,
        count(*) filter (
            where records.rectification_deadline between quarters.quarter_start
            and quarters.quarter_end
        )::bigint as rectification_due,
        count(*) filter (
            where records.rectification_deadline between quarters.quarter_start
            and quarters.quarter_end
            and records.rectification_outcome = 'in_time'
        )::bigint as rectified_in_time,
        count(*) filter (
            where records.rectification_deadline between quarters.quarter_start
            and quarters.quarter_end
            and records.rectification_outcome = 'late'
        )::bigint as rectified_late,
        count(*) filter (
            where records.rectification_deadline between quarters.quarter_start
            and quarters.quarter_end
            and records.rectification_outcome = 'not_rectified'
        )::bigint as not_rectified,
        count(*) filter (
            where records.reminder_interview_due_date between quarters.quarter_start
            and quarters.quarter_end
        )::bigint as reminder_due,
        count(*) filter (
            where records.reminder_interview_date between quarters.quarter_start
            and quarters.quarter_end
        )::bigint as reminder_held,
        count(*) filter (
            where records.warning_interview_due_date between quarters.quarter_start
            and quarters.quarter_end
        )::bigint as warning_due,
        count(*) filter (
            where records.warning_interview_date between quarters.quarter_start
            and quarters.quarter_end
        )::bigint as warning_held,
        count(*) filter (
            where records.repair_application_date between quarters.quarter_start
            and quarters.quarter_end
        )::bigint as repair_applied,
        count(*) filter (
            where records.repair_decision_date between quarters.quarter_start
            and quarters.quarter_end
            and records.repair_decision_code = 'approved'
        )::bigint as repair_approved,
        count(*) filter (
            where records.repair_decision_date between quarters.quarter_start
            and quarters.quarter_end
            and records.repair_decision_code = 'refused'
        )::bigint as repair_refused,
        count(*) filter (
            where records.exit_date between quarters.quarter_start and quarters.quarter_end
            and records.exit_reason = 'repair'
        )::bigint as exit_repair,
        count(*) filter (
            where records.objection_filed_date between quarters.quarter_start
            and quarters.quarter_end
        )::bigint as objection_filed,
        count(*) filter (
            where records.objection_outcome_date between quarters.quarter_start
            and quarters.quarter_end
        )::bigint as objection_closed,
        count(*) filter (
            where records.objection_outcome_date between quarters.quarter_start
            and quarters.quarter_end
            and records.objection_outcome = 'confirm'
        )::bigint as objection_confirmed,
        count(*) filter (
            where records.objection_outcome_date between quarters.quarter_start
            and quarters.quarter_end
            and records.objection_outcome = 'correct'
        )::bigint as objection_corrected,
        count(*) filter (
            where records.objection_outcome_date between quarters.quarter_start
            and quarters.quarter_end
            and records.objection_outcome = 'revoke'
        )::bigint as objection_revoked,
        count(*) filter (
            where records.objection_filed_date <= quarters.quarter_end
            and (
                records.objection_outcome_date is null
                or records.objection_outcome_date > quarters.quarter_end
            )
        )::bigint as objection_pending
    from quarters
    cross join records
    group by quarters.quarter_label, quarters.quarter_start, quarters.quarter_end, records.dept_code

)

select * from final

{#- Warnings about one dishonesty record's follow-up, owned by the department that identified
    it (谁认定、谁负责):
    - reminder_interview_due / warning_interview_due: the rectification deadline (整改期限)
      passed unrectified, so a reminder (提示性约谈) or, for serious records, a warning
      interview (警示性约谈) is due; raised `threshold_days` after the deadline, closed when the
      interview is held or the record exits;
    - repair_eligible: the record may be repaired (信用修复) and no application came;
      raised `threshold_days` after the eligible date, closed by an application or the exit;
    - joint_punishment_notice: a serious record under joint punishment (联合惩戒), one notice
      to every department with measures of its own marked joint punishment in
      `supervision_measures` and to the identifying department; closed at the exit. -#}

{{ config(materialized='table') }}


with

records as (

    select * from {{ ref('fct_dishonesty_records') }}

),

rules as (

    select * from {{ ref('int_warning_rules_enabled') }}

),

reminder as (

    select
        rules.rule_code,
        records.decision_doc_no as condition_key,
        records.subject_key,
        records.dept_code,
        records.rectification_deadline + 1 + coalesce(rules.threshold_days, 0) as raised_date,
        least(records.reminder_interview_date, records.exit_date) as closed_date,
        '认定文书号' || records.decision_doc_no || '（' || records.behaviour || '）整改期限'
        || records.rectification_deadline::text || '已过仍未整改，应于'
        || records.reminder_interview_due_date::text || '前开展提示性约谈。' as facts
    from records
    inner join rules on rules.rule_code = 'reminder_interview_due'
    where records.reminder_interview_due_date is not null

),

warning_interview as (

    select
        rules.rule_code,
        records.decision_doc_no as condition_key,
        records.subject_key,
        records.dept_code,
        records.rectification_deadline + 1 + coalesce(rules.threshold_days, 0) as raised_date,
        least(records.warning_interview_date, records.exit_date) as closed_date,
        '严重失信认定文书号' || records.decision_doc_no || '（' || records.behaviour || '）整改期限'
        || records.rectification_deadline::text || '已过仍未整改，应于'
        || records.warning_interview_due_date::text || '前开展警示性约谈。' as facts
    from records
    inner join rules on rules.rule_code = 'warning_interview_due'
    where records.warning_interview_due_date is not null

),

repair as (

    select
        rules.rule_code,
        records.decision_doc_no as condition_key,
        records.subject_key,
        records.dept_code,
        records.repair_eligible_date + coalesce(rules.threshold_days, 0) as raised_date,
        least(records.repair_application_date, records.exit_date) as closed_date,
        '认定文书号' || records.decision_doc_no || '（' || records.behaviour || '）自'
        || records.repair_eligible_date::text || '起可申请信用修复，尚未申请，请告知主体修复途径。'
            as facts
    from records
    inner join rules on rules.rule_code = 'repair_eligible'
    where records.repair_eligible_date is not null

),

departments as (

    select
        dept_code,
        name_zh
    from {{ ref('departments') }}

),

notified_departments as (

    select distinct dept_code
    from {{ ref('supervision_measures') }}
    where joint_punishment and dept_code <> '*'

),

notice_targets as (

    select
        records.decision_doc_no,
        notified_departments.dept_code
    from records
    cross join notified_departments
    where records.joint_punishment
    union
    select
        decision_doc_no,
        dept_code
    from records
    where joint_punishment

),

joint_punishment as (

    select
        rules.rule_code,
        records.decision_doc_no || '|' || notice_targets.dept_code as condition_key,
        records.subject_key,
        notice_targets.dept_code,
        records.decision_date + coalesce(rules.threshold_days, 0) as raised_date,
        records.exit_date as closed_date,
        records.subject_name || '被' || identifying.name_zh || '认定严重失信（认定文书号'
        || records.decision_doc_no || '，' || records.behaviour || '），请依清单实施联合惩戒措施：'
        || coalesce(records.applicable_measures_zh, '') || '。' as facts
    from records
    inner join notice_targets on records.decision_doc_no = notice_targets.decision_doc_no
    inner join departments as identifying on records.dept_code = identifying.dept_code
    inner join rules on rules.rule_code = 'joint_punishment_notice'

),

final as (

    select * from reminder
    union all
    select * from warning_interview
    union all
    select * from repair
    union all
    select * from joint_punishment

)

select * from final

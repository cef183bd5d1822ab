{#- objection_overdue: an objection (异议) accepted but not closed within `threshold_days`
    days of its filing; raised the day after that deadline, closed on the day it was closed.
    Owned by the department handling it. Objection numbers repeat across departments, so an
    objection is its department, number and target document together. -#}

{{ config(materialized='table') }}


with

rules as (

    select * from {{ ref('int_warning_rules_enabled') }}
    where rule_code = 'objection_overdue'

),

objections as (

    select * from ({{ known_latest(ref('stg_raw__objections')) }}) as known
    where change_type_code <> 'revoke'

),

cases as (

    select
        dept_code,
        objection_no,
        target_doc_no,
        min(subject_key) as subject_key,
        min(target_kind) as target_kind,
        min(filed_date) as filed_date,
        min(outcome_date) filter (where stage_code = 'closed') as outcome_date
    from objections
    group by 1, 2, 3

),

final as (

    select
        rules.rule_code,
        cases.dept_code || '|' || cases.objection_no || '|' || cases.target_doc_no as condition_key,
        cases.subject_key,
        cases.dept_code,
        cases.filed_date + rules.threshold_days + 1 as raised_date,
        cases.outcome_date as closed_date,
        '异议' || cases.objection_no || '（针对' || cases.target_kind || cases.target_doc_no || '）于'
        || cases.filed_date::text || '受理，超过' || rules.threshold_days::text || '日未办结。'
            as facts
    from cases
    cross join rules
    where cases.filed_date is not null

)

select * from final

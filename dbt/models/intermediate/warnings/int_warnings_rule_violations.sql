{#- Warnings about records that contradict the rule tables, sent to the credit office (信用办,
    who keeps the rules): such records are kept and marked, never silently accepted.
    - unlisted_behaviour: a dishonesty record names a behaviour that is not on its department's
      dishonesty list (失信行为清单; its severity is taken as sent): raised the day the first such
      version was known, closed by a later version naming a listed behaviour or by the exit;
    - repair_against_rules: a repair approved before the minimum publicity period ended
      (closed when it ends, the day the record exits by the repair), or approved although a
      penalty that can never end early bars an early exit (closed at the record's exit). -#}

{{ config(materialized='table') }}


with

rules as (

    select * from {{ ref('int_warning_rules_enabled') }}

),

versions as (

    select * from {{ ref('int_dishonesty_versions_ruled') }}

),

records as (

    select * from {{ ref('fct_dishonesty_records') }}

),

departments as (

    select
        dept_code,
        name_zh
    from {{ ref('departments') }}

),

severities as (

    select
        severity_code,
        severity_zh
    from {{ ref('publicity_rules') }}

),

unlisted_versions as (

    select
        decision_doc_no,
        min(known_date) as first_unlisted_date
    from versions
    where severity_source = 'as_sent'
    group by decision_doc_no

),

relisted_versions as (

    select
        versions.decision_doc_no,
        min(versions.known_date) as relisted_date
    from versions
    inner join unlisted_versions
        on
            versions.decision_doc_no = unlisted_versions.decision_doc_no
            and versions.known_date > unlisted_versions.first_unlisted_date
    where versions.severity_source = 'dishonesty_list'
    group by versions.decision_doc_no

),

unlisted as (

    select
        rules.rule_code,
        records.decision_doc_no as condition_key,
        records.subject_key,
        rules.responsible as dept_code,
        unlisted_versions.first_unlisted_date as raised_date,
        least(relisted_versions.relisted_date, records.exit_date) as closed_date,
        identifying.name_zh || '认定文书号' || records.decision_doc_no || '所认定的失信行为“'
        || records.behaviour || '”不在该部门失信行为清单内，失信程度按报送的“'
        || severities.severity_zh || '”计，请核实认定依据。' as facts
    from records
    inner join unlisted_versions on records.decision_doc_no = unlisted_versions.decision_doc_no
    left join relisted_versions on records.decision_doc_no = relisted_versions.decision_doc_no
    inner join departments as identifying on records.dept_code = identifying.dept_code
    inner join severities on records.sent_severity_code = severities.severity_code
    inner join rules on rules.rule_code = 'unlisted_behaviour'

),

repairs as (

    select
        rules.rule_code,
        records.decision_doc_no as condition_key,
        records.subject_key,
        rules.responsible as dept_code,
        records.repair_approved_date as raised_date,
        case
            when records.early_end_barred then records.exit_date
            else records.publicity_min_end
        end as closed_date,
        identifying.name_zh || '于' || records.repair_approved_date::text || '准予认定文书号'
        || records.decision_doc_no || '（' || records.behaviour || '）信用修复，'
        || case
            when records.early_end_barred
                then '但同一部门对同一行为作出的处罚不得提前退出，记录保留至公示期满。'
            else '早于最短公示期届满日' || records.publicity_min_end::text || '，记录于该日起退出。'
        end as facts
    from records
    inner join departments as identifying on records.dept_code = identifying.dept_code
    inner join rules on rules.rule_code = 'repair_against_rules'
    where
        records.repair_approved_date is not null
        and (records.repair_before_min_period or records.early_end_barred)

),

final as (

    select * from unlisted
    union all
    select * from repairs

)

select * from final

{#- commitment_breached: a subject breached a credit commitment (信用承诺未履约); owned by the
    department it was made to, which applies the commitment's agreed restraint (失信约束);
    raised `threshold_days` after the department recorded the breach. -#}

with

commitments as (

    select * from {{ ref('fct_commitments') }}

),

rules as (

    select * from {{ ref('int_warning_rules_enabled') }}

),

departments as (

    select
        dept_code,
        name_zh
    from {{ ref('departments') }}

),

final as (

    select
        rules.rule_code,
        commitments.record_key as condition_key,
        commitments.subject_key,
        commitments.dept_code,
        commitments.settled_date + coalesce(rules.threshold_days, 0) as raised_date,
        null::date as closed_date,
        '主体于' || commitments.commitment_date::text || '向' || departments.name_zh || '作出'
        || commitments.commitment_type || '信用承诺（承诺书编号' || commitments.commitment_no
        || '），' || commitments.settled_date::text || '经核查未履约，请依承诺约定实施失信约束。'
            as facts
    from commitments
    inner join departments on commitments.dept_code = departments.dept_code
    inner join rules on rules.rule_code = 'commitment_breached'
    where commitments.fulfilment_code = 'breached'

)

select * from final

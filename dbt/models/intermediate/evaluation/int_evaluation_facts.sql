{#- Dated facts (评价事实) the scoring model reads, one row per fact and subject:
    `fact_kind` + `fact_value` select an indicator of `evaluation_indicators`; a fact counts
    on an evaluation date d when fact_date <= d < fact_end (fact_end null = open). Level-type
    facts (tax level, industry evaluation, customs grade) end when the next one is dated.
    Revoked records (撤销) are left out. -#}

{{ config(materialized='table') }}


with

dishonesty as (

    select
        subject_key,
        'dishonesty' as fact_kind,
        severity_code as fact_value,
        decision_date as fact_date,
        case when exit_reason = 'revocation' then exit_date end as fact_end,
        case when exit_reason = 'repair' then exit_date end as repaired_date,
        decision_doc_no as source_doc_no
    from {{ ref('fct_dishonesty_records') }}
    where subject_key is not null

),

penalties as (

    select
        subject_key,
        'penalty' as fact_kind,
        penalty_category as fact_value,
        decision_date as fact_date,
        null::date as fact_end,
        null::date as repaired_date,
        penalty_doc_no as source_doc_no
    from ({{ known_latest(ref('stg_raw__penalties')) }}) as known
    where change_type_code <> 'revoke' and subject_key is not null

),

commitment_breaches as (

    select
        subject_key,
        'commitment_breach' as fact_kind,
        '*' as fact_value,
        settled_date as fact_date,
        null::date as fact_end,
        null::date as repaired_date,
        commitment_no as source_doc_no
    from {{ ref('fct_commitments') }}
    where fulfilment_code = 'breached' and subject_key is not null

),

court as (

    select
        subject_key,
        'court_enforcement' as fact_kind,
        performance as fact_value,
        listing_date as fact_date,
        removal_date as fact_end,
        null::date as repaired_date,
        case_no as source_doc_no
    from ({{ known_latest(ref('stg_raw__court_enforcements')) }}) as known
    where change_type_code <> 'revoke' and subject_key is not null

),

tax as (

    select
        subject_key,
        credit_level,
        major_violation,
        evaluation_date,
        lead(evaluation_date) over (
            partition by subject_key order by evaluation_date, tax_year, record_key
        ) as next_evaluation_date,
        record_key
    from ({{ known_latest(ref('stg_raw__tax_credits')) }}) as known
    where change_type_code <> 'revoke' and subject_key is not null

),

tax_levels as (

    select
        subject_key,
        'tax_level' as fact_kind,
        credit_level as fact_value,
        evaluation_date as fact_date,
        next_evaluation_date as fact_end,
        null::date as repaired_date,
        record_key as source_doc_no
    from tax

),

tax_violations as (

    select
        subject_key,
        'tax_major_violation' as fact_kind,
        major_violation as fact_value,
        evaluation_date as fact_date,
        next_evaluation_date as fact_end,
        null::date as repaired_date,
        record_key as source_doc_no
    from tax
    where major_violation = '是'

),

commendations as (

    select
        subject_key,
        'commendation' as fact_kind,
        honour_level as fact_value,
        award_date as fact_date,
        valid_to + 1 as fact_end,
        null::date as repaired_date,
        record_key as source_doc_no
    from ({{ known_latest(ref('stg_raw__commendations')) }}) as known
    where change_type_code <> 'revoke' and subject_key is not null

),

industry_levels as (

    select
        subject_key,
        'industry_level' as fact_kind,
        level as fact_value,
        eval_date as fact_date,
        lead(eval_date) over (
            partition by subject_key order by eval_date, evaluation_no
        ) as fact_end,
        null::date as repaired_date,
        evaluation_no as source_doc_no
    from ({{ known_latest(ref('stg_raw__industry_evaluations')) }}) as known
    where change_type_code <> 'revoke' and subject_key is not null

),

customs as (

    select
        subject_key,
        'customs_grade' as fact_kind,
        credit_grade_code as fact_value,
        decision_date as fact_date,
        lead(decision_date) over (
            partition by subject_key order by decision_date, record_key
        ) as fact_end,
        null::date as repaired_date,
        record_key as source_doc_no
    from ({{ known_latest(ref('stg_raw__customs_credits')) }}) as known
    where change_type_code <> 'revoke' and subject_key is not null

),

inspections as (

    select
        subject_key,
        'inspection' as fact_kind,
        case
            when result like '发现问题%' then 'problem'
            when result = '通过登记的住所（经营场所）无法联系' then 'unreachable'
        end as fact_value,
        inspection_date as fact_date,
        null::date as fact_end,
        null::date as repaired_date,
        record_key as source_doc_no
    from ({{ known_latest(ref('stg_raw__inspections')) }}) as known
    where
        change_type_code <> 'revoke'
        and subject_key is not null
        and (result like '发现问题%' or result = '通过登记的住所（经营场所）无法联系')

),

final as (

    select * from dishonesty
    union all
    select * from penalties
    union all
    select * from commitment_breaches
    union all
    select * from court
    union all
    select * from tax_levels
    union all
    select * from tax_violations
    union all
    select * from commendations
    union all
    select * from industry_levels
    union all
    select * from customs
    union all
    select * from inspections

)

select * from final

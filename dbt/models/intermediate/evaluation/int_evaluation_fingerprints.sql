{#- What each subject's evaluation is computed from, as one fingerprint: the scoring rules
    (evaluation_models, evaluation_indicators, grade_thresholds), the subject's domain and model,
    and its dated facts. The same fingerprint on another night means the same scores on every
    evaluation date, so the incremental evaluation re-evaluates only subjects whose fingerprint
    changed (int_evaluation_targets). -#}

{{ config(materialized='table', indexes=[{'columns': ['subject_key'], 'unique': True}]) }}


with

-- The scoring rules, each seed's rows as text in a fixed order.
rule_rows as (

    select
        'models' as seed,
        t::text as row_text
    from {{ ref('evaluation_models') }} as t
    union all
    select
        'indicators' as seed,
        t::text as row_text
    from {{ ref('evaluation_indicators') }} as t
    union all
    select
        'thresholds' as seed,
        t::text as row_text
    from {{ ref('grade_thresholds') }} as t

),

rules as (

    select md5(string_agg(seed || ':' || row_text, ',' order by seed, row_text)) as rules_md5
    from rule_rows

),

facts as (

    select
        subject_key,
        string_agg(fact_text, ',' order by fact_text) as facts_text
    from (
        select
            subject_key,
            concat_ws(
                '/',
                fact_kind,
                coalesce(fact_value, ''),
                fact_date,
                coalesce(fact_end::text, ''),
                coalesce(repaired_date::text, '')
            ) as fact_text
        from {{ ref('int_evaluation_facts') }}
    ) as dated
    group by subject_key

),

final as (

    select
        subjects.subject_key,
        md5(concat_ws(
            '#',
            rules.rules_md5,
            subjects.domain_code,
            subjects.model_code,
            coalesce(facts.facts_text, '')
        )) as inputs_md5
    from {{ ref('int_subject_domains') }} as subjects
    cross join rules
    left join facts on subjects.subject_key = facts.subject_key

)

select * from final

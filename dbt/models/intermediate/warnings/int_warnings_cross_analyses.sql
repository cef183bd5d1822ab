{#- Warnings from the cross-analyses:
    - red_black_conflict: a subject on the incentive list (红名单) holds active dishonesty;
      owned by the department that awarded the honour (it should review it); closed when
      either ends;
    - related_party_risk: a subject related through its legal representative to a serious
      dishonesty; owned by the subject's domain lead department; closed at the record's exit;
    - industry_risk: a domain's dishonesty rate at a closed quarter's end rose to
      `threshold_ratio` × the previous quarter's or more, with at least `threshold_count`
      dishonest subjects at its end and `min_base` at the previous quarter's end; raised on the
      quarter's last day, closed at the next closed quarter's end when the rise is not
      repeated. -#}

{{ config(materialized='table') }}


with

rules as (

    select * from {{ ref('int_warning_rules_enabled') }}

),

subjects as (

    select * from {{ ref('int_subject_domains') }}

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

red_black as (

    select
        rules.rule_code,
        conflicts.commendation_key || '|' || conflicts.decision_doc_no as condition_key,
        conflicts.subject_key,
        conflicts.commendation_dept_code as dept_code,
        conflicts.conflict_start as raised_date,
        conflicts.conflict_end as closed_date,
        '主体持有红名单荣誉“' || conflicts.honour_name || '”（表彰文号'
        || conflicts.commendation_doc_no || '），同时存在有效失信记录' || conflicts.decision_doc_no
        || '（' || identifying.name_zh || '认定，' || severities.severity_zh
        || '失信），请复核荣誉。' as facts
    from {{ ref('fct_red_black_conflicts') }} as conflicts
    inner join departments as identifying on conflicts.dishonesty_dept_code = identifying.dept_code
    inner join severities on conflicts.severity_code = severities.severity_code
    inner join rules on rules.rule_code = 'red_black_conflict'

),

related_party as (

    select
        rules.rule_code,
        risks.subject_key || '|' || risks.decision_doc_no as condition_key,
        risks.subject_key,
        subjects.lead_dept_code as dept_code,
        risks.risk_start as raised_date,
        risks.risk_end as closed_date,
        case risks.relation_type
            when 'legal_rep_himself' then '主体的法定代表人本人'
            else '主体与“' || coalesce(risks.related_subject_name, '') || '”共用法定代表人，后者'
        end
        || '被' || identifying.name_zh || '认定严重失信（认定文书号' || risks.decision_doc_no
        || '，' || risks.behaviour || '）。' as facts
    from {{ ref('fct_related_party_risks') }} as risks
    inner join subjects on risks.subject_key = subjects.subject_key
    inner join departments as identifying on risks.dept_code = identifying.dept_code
    inner join rules on rules.rule_code = 'related_party_risk'

),

domains as (

    select distinct on (domain_code)
        domain_code,
        domain_zh,
        lead_dept_code
    from {{ ref('industry_domains') }}
    order by domain_code, industry_section

),

quarters as (

    select
        rates.*,
        rates.dishonest_subjects_end >= coalesce(rules.threshold_count, 0)
        and rates.dishonest_subjects_start >= greatest(coalesce(rules.min_base, 0), 1)
        and rates.rate_ratio >= rules.threshold_ratio as risen,
        rules.rule_code
    from {{ ref('fct_industry_risk') }} as rates
    inner join rules on rules.rule_code = 'industry_risk'
    where rates.quarter_closed

),

industry as (

    select
        quarters.rule_code,
        quarters.domain_code || '|' || quarters.quarter_label as condition_key,
        null::text as subject_key,
        domains.lead_dept_code as dept_code,
        quarters.period_end as raised_date,
        (
            select min(later.period_end)
            from quarters as later
            where
                later.domain_code = quarters.domain_code
                and later.period_end > quarters.period_end
                and not later.risen
        ) as closed_date,
        domains.domain_zh || '领域' || replace(quarters.quarter_label, 'Q', '年第')
        || '季度末失信主体' || quarters.dishonest_subjects_end
        || '户（失信率' || round(quarters.rate_end * 100, 2)::text || '%），上季度末'
        || quarters.dishonest_subjects_start || '户（' || round(quarters.rate_start * 100, 2)::text
        || '%），环比上升明显。' as facts
    from quarters
    inner join domains on quarters.domain_code = domains.domain_code
    where quarters.risen

),

final as (

    select * from red_black
    union all
    select * from related_party
    union all
    select * from industry

)

select * from final

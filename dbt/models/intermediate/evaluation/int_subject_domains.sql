{#- Each subject's industry domain (行业领域) and scoring model: the GB/T 4754 section of its
    registered industry code, looked up in the `industry_domains` seed (`*` = everyone else,
    e.g. natural persons and unregistered subjects). -#}

with

subjects as (

    select * from {{ ref('dim_subjects') }}

),

domains as (

    select * from {{ ref('industry_domains') }}

),

fallback as (

    select * from domains
    where industry_section = '*'

),

final as (

    select
        subjects.subject_key,
        subjects.subject_name,
        subjects.subject_kind,
        subjects.division_code,
        subjects.legal_rep_id_number_hash,
        subjects.is_registered,
        subjects.status,
        subjects.established_date,
        subjects.first_seen_date,
        coalesce(matched_domains.industry_section, fallback.industry_section) as industry_section,
        coalesce(matched_domains.domain_code, fallback.domain_code) as domain_code,
        coalesce(matched_domains.domain_zh, fallback.domain_zh) as domain_zh,
        coalesce(matched_domains.model_code, fallback.model_code) as model_code,
        coalesce(matched_domains.lead_dept_code, fallback.lead_dept_code) as lead_dept_code
    from subjects
    left join domains as matched_domains
        on left(subjects.industry_code, 1) = matched_domains.industry_section
    cross join fallback

)

select * from final

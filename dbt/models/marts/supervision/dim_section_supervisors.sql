{#- Who supervises each industry section (谁监管): the departments whose inspection scope covers
    it (inspection_scopes) and its domain's lead department (industry_domains), one row each;
    `*` is everyone else (natural persons, unregistered subjects). The measures of a section
    follow from it (int_domain_measures), and row-level security lets a department read the
    dishonesty records of the subjects in the sections it supervises
    (macros/access/department_rows.sql). -#}

with

domains as (

    select * from {{ ref('industry_domains') }}

),

supervisors as (

    select
        domains.industry_section,
        scopes.dept_code,
        false as is_lead
    from domains
    inner join {{ ref('inspection_scopes') }} as scopes
        on domains.industry_section = scopes.industry_section
    union all
    select
        industry_section,
        lead_dept_code as dept_code,
        true as is_lead
    from domains

),

final as (

    select
        (industry_section || '|' || dept_code)::text as section_supervisor_key,
        industry_section::text as industry_section,
        dept_code::text as dept_code,
        bool_or(is_lead)::boolean as is_lead
    from supervisors
    group by industry_section, dept_code

)

select * from final

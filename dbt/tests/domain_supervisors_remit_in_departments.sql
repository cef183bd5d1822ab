{#- 行业监管部门 Every industry domain has a supervising department, and every remit a
    `domain_supervisors` row cites is one of its department's remits in Attachment 1
    (`departments.domains_zh`, ';'-separated). Returns the domains without one and the rows
    that cite another remit. -#}

select
    domains.domain_code,
    null as dept_code,
    'no supervising department' as problem
from {{ ref('industry_domains') }} as domains
where
    not exists (
        select 1
        from {{ ref('domain_supervisors') }} as supervisors
        where supervisors.domain_code = domains.domain_code
    )

union all

select
    supervisors.domain_code,
    supervisors.dept_code,
    'remit not in the department''s Attachment 1 row: ' || supervisors.remit_zh as problem
from {{ ref('domain_supervisors') }} as supervisors
inner join {{ ref('departments') }} as departments
    on supervisors.dept_code = departments.dept_code
where
    supervisors.remit_zh is not null
    and not supervisors.remit_zh = any(string_to_array(departments.domains_zh, ';'))

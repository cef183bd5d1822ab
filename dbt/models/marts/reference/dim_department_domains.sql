with

departments as (

    select * from {{ ref('departments') }}

),

domains as (

    select
        departments.dept_code,
        departments.name_zh as dept_name_zh,
        trim(domain_list.domain_zh) as domain_zh,
        domain_list.domain_position::integer as domain_position

    from departments
    cross join
        lateral unnest(string_to_array(departments.domains_zh, ';'))
        with ordinality as domain_list (domain_zh, domain_position)

),

final as (

    select
        dept_code || ':' || domain_zh as department_domain_key,
        dept_code,
        dept_name_zh,
        domain_zh,
        domain_position
    from domains

)

select * from final

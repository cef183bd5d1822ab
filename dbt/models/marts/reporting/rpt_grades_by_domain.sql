{#- 信用等级分布 Subjects by industry domain and grade at the end of each quarter of the monitoring
    window: each subject's latest evaluation on or before the quarter's last day. -#}
with

quarters as (

    select * from {{ ref('int_monitoring_quarters') }}

),

grades as (

    select * from {{ ref('fct_subject_grades') }}

),

domains as (

    select distinct
        domain_code,
        domain_zh
    from {{ ref('industry_domains') }}

),

latest as (

    select distinct on (quarters.quarter_label, grades.subject_key)
        quarters.quarter_label,
        quarters.quarter_end,
        grades.subject_key,
        grades.domain_code,
        grades.grade
    from quarters
    inner join grades on quarters.quarter_end >= grades.evaluation_date
    order by quarters.quarter_label asc, grades.subject_key asc, grades.evaluation_date desc

),

final as (

    select
        latest.quarter_label::text as quarter_label,
        latest.quarter_end::date as quarter_end,
        latest.domain_code::text as domain_code,
        coalesce(domains.domain_zh, latest.domain_code)::text as domain_zh,
        count(*) filter (where latest.grade = 'A')::bigint as grade_a,
        count(*) filter (where latest.grade = 'B')::bigint as grade_b,
        count(*) filter (where latest.grade = 'C')::bigint as grade_c,
        count(*) filter (where latest.grade = 'D')::bigint as grade_d,
        count(*)::bigint as subjects
    from latest
    left join domains on latest.domain_code = domains.domain_code
    group by latest.quarter_label, latest.quarter_end, latest.domain_code, domains.domain_zh

)

select * from final

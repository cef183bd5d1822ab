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

-- The quarter's evaluation: the last evaluation date on or before its last day (every subject is
-- evaluated on every date, so this is each subject's latest evaluation then).
quarter_dates as (

    select
        quarters.quarter_label,
        quarters.quarter_end,
        max(dates.evaluation_date) as evaluation_date
    from quarters
    inner join {{ ref('int_evaluation_dates') }} as dates
        on quarters.quarter_end >= dates.evaluation_date
    group by quarters.quarter_label, quarters.quarter_end

),

latest as (

    select
        quarter_dates.quarter_label,
        quarter_dates.quarter_end,
        grades.subject_key,
        grades.domain_code,
        grades.grade
    from quarter_dates
    inner join grades on quarter_dates.evaluation_date = grades.evaluation_date

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

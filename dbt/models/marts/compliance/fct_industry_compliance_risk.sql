{#- 行业合规风险 Compliance risk per industry domain on the as-of date: its subjects by level
    (fct_compliance_risk), the share at a risky level (is_risky), the average points, the level
    that share reaches (compliance_risk_levels, scope industry) and the factor found in most of
    its subjects. -#}
with

risks as (

    select * from {{ ref('fct_compliance_risk') }}

),

factors as (

    select * from {{ ref('fct_compliance_risk_factors') }}

),

levels as (

    select * from {{ ref('compliance_risk_levels') }}
    where scope = 'industry'

),

domains as (

    select
        domain_code,
        max(domain_zh) as domain_zh,
        max(as_of_date) as as_of_date,
        count(*) as subjects,
        count(*) filter (where level_code = 'low') as level_low,
        count(*) filter (where level_code = 'medium') as level_medium,
        count(*) filter (where level_code = 'elevated') as level_elevated,
        count(*) filter (where level_code = 'high') as level_high,
        count(*) filter (where is_risky) as risky_subjects,
        avg(risk_points) as average_points
    from risks
    group by domain_code

),

factor_ranks as (

    select
        risks.domain_code,
        factors.factor_zh,
        row_number() over (
            partition by risks.domain_code
            order by count(*) desc, factors.factor_code
        ) as factor_rank
    from factors
    inner join risks on factors.subject_key = risks.subject_key
    group by risks.domain_code, factors.factor_code, factors.factor_zh

),

final as (

    select
        domains.domain_code::text as domain_code,
        domains.domain_zh::text as domain_zh,
        domains.subjects::bigint as subjects,
        domains.level_low::bigint as level_low,
        domains.level_medium::bigint as level_medium,
        domains.level_elevated::bigint as level_elevated,
        domains.level_high::bigint as level_high,
        domains.risky_subjects::bigint as risky_subjects,
        (domains.risky_subjects::double precision / domains.subjects)::double precision
            as risky_share,
        domains.average_points::numeric(8, 2) as average_points,
        level.level_code::text as level_code,
        level.level_zh::text as level_zh,
        level.level_rank::integer as level_rank,
        top_factor.factor_zh::text as top_factor_zh,
        domains.as_of_date::date as as_of_date
    from domains
    cross join
        lateral (
            select
                levels.level_code,
                levels.level_zh,
                levels.level_rank
            from levels
            where domains.risky_subjects::numeric / domains.subjects >= levels.min_value
            order by levels.min_value desc
            limit 1
        ) as level
    left join factor_ranks as top_factor
        on domains.domain_code = top_factor.domain_code and top_factor.factor_rank = 1

)

select * from final

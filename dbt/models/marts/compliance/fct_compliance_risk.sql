{#- 合规风险评价 Compliance risk per subject on the as-of date: the sum of its factors' points
    (fct_compliance_risk_factors), the level that sum reaches (compliance_risk_levels, scope
    subject) and the factors named, largest first. Every subject of subject_profiles has a row;
    one with no factor has 0 points, the lowest level. -#}
with

profiles as (

    select * from {{ ref('subject_profiles') }}

),

factors as (

    select * from {{ ref('fct_compliance_risk_factors') }}

),

levels as (

    select * from {{ ref('compliance_risk_levels') }}
    where scope = 'subject'

),

summed as (

    select
        subject_key,
        sum(points) as risk_points,
        count(*) as factor_count,
        string_agg(
            factor_zh || '（' || fact_count || '项，' || trim_scale(points) || '分）',
            '；' order by points desc, factor_code asc
        ) as factors_zh
    from factors
    group by subject_key

),

scored as (

    select
        profiles.subject_key,
        profiles.subject_name,
        profiles.subject_kind,
        profiles.division_code,
        profiles.domain_code,
        profiles.domain_zh,
        profiles.grade,
        profiles.as_of_date,
        coalesce(summed.risk_points, 0) as risk_points,
        coalesce(summed.factor_count, 0) as factor_count,
        summed.factors_zh
    from profiles
    left join summed on profiles.subject_key = summed.subject_key

),

final as (

    select
        scored.subject_key::text as subject_key,
        scored.subject_name::text as subject_name,
        scored.subject_kind::text as subject_kind,
        scored.division_code::text as division_code,
        scored.domain_code::text as domain_code,
        scored.domain_zh::text as domain_zh,
        scored.grade::text as grade,
        scored.risk_points::numeric(8, 2) as risk_points,
        level.level_code::text as level_code,
        level.level_zh::text as level_zh,
        level.level_rank::integer as level_rank,
        level.is_risky::boolean as is_risky,
        scored.factor_count::integer as factor_count,
        scored.factors_zh::text as factors_zh,
        scored.as_of_date::date as as_of_date
    from scored
    cross join lateral (
        select
            levels.level_code,
            levels.level_zh,
            levels.level_rank,
            levels.is_risky
        from levels
        where scored.risk_points >= levels.min_value
        order by levels.min_value desc
        limit 1
    ) as level

)

select * from final

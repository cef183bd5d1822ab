{#- 合规风险因素 The itemised compliance-risk evaluation (合规风险评价): one row per subject and
    factor of compliance_risk_factors that applies to it on the as-of date, with the facts counted,
    the points they give (the first fact's points, then points_per_extra for each further one, up
    to max_points) and the documents behind them. The facts are the evaluation's dated facts
    (int_evaluation_facts: in force on the as-of date, not repaired, dated within the factor's
    lookback) and three flags of the subject's profile (subject_profiles). -#}
with

as_of as (

    select as_of_date from {{ ref('int_lifecycle_as_of') }}

),

factors as (

    select * from {{ ref('compliance_risk_factors') }}

),

facts as (

    select * from {{ ref('int_evaluation_facts') }}

),

profiles as (

    select * from {{ ref('subject_profiles') }}

),

dated_facts as (

    select
        facts.subject_key,
        factors.factor_code,
        facts.fact_date,
        facts.source_doc_no
    from facts
    inner join factors
        on
            facts.fact_kind = factors.fact_kind
            and (factors.fact_value = '*' or facts.fact_value = factors.fact_value)
    cross join as_of
    where
        facts.fact_date <= as_of.as_of_date
        and (facts.fact_end is null or facts.fact_end > as_of.as_of_date)
        and (facts.repaired_date is null or facts.repaired_date > as_of.as_of_date)
        and (
            factors.lookback_months is null
            or facts.fact_date > as_of.as_of_date - make_interval(months => factors.lookback_months)
        )

),

fact_counts as (

    select
        subject_key,
        factor_code,
        count(*) as fact_count,
        max(fact_date) as latest_fact_date,
        string_agg(source_doc_no, '；' order by fact_date desc, source_doc_no asc) as evidence
    from dated_facts
    group by subject_key, factor_code

),

profile_flags as (

    select
        profiles.subject_key,
        flag.fact_kind,
        flag.fact_count
    from profiles
    cross join
        lateral (
            values
            ('red_black_conflict', profiles.red_black_conflict::integer),
            ('related_serious_subject', profiles.related_serious_subjects),
            ('open_warning', profiles.open_warning_count)
        ) as flag (fact_kind, fact_count)
    where flag.fact_count > 0

),

flag_counts as (

    select
        profile_flags.subject_key,
        factors.factor_code,
        profile_flags.fact_count,
        null::date as latest_fact_date,
        null::text as evidence
    from profile_flags
    inner join factors on profile_flags.fact_kind = factors.fact_kind

),

counted as (

    select * from fact_counts
    union all
    select * from flag_counts

),

final as (

    select
        counted.subject_key::text as subject_key,
        counted.factor_code::text as factor_code,
        factors.factor_zh::text as factor_zh,
        counted.fact_count::integer as fact_count,
        least(
            factors.max_points,
            factors.points + factors.points_per_extra * (counted.fact_count - 1)
        )::numeric(8, 2) as points,
        counted.latest_fact_date::date as latest_fact_date,
        counted.evidence::text as evidence,
        as_of.as_of_date::date as as_of_date
    from counted
    inner join factors on counted.factor_code = factors.factor_code
    cross join as_of

)

select * from final

{#- Subject profiles (精准画像): one row per subject on the as-of date, the columns supervisors
    read at a glance: domain, grade and score with the previous grade, dishonesty and honours
    in force, cross-analysis flags (红黑名单, 关联方), court and tax facts, inspections, the
    measures that apply and the open warnings. -#}

with

subjects as (

    select * from {{ ref('int_subject_domains') }}

),

grades as (

    select * from {{ ref('fct_subject_grades') }}
    -- The current grades (is_current), by the evaluation_date index.
    where evaluation_date = (select as_of.as_of_date from {{ ref('int_lifecycle_as_of') }} as as_of)

),

dossiers as (

    select * from {{ ref('dossiers') }}

),

facts as (

    select * from {{ ref('int_evaluation_facts') }}

),

as_of as (

    select as_of_date from {{ ref('int_lifecycle_as_of') }}

),

fact_summary as (

    select
        facts.subject_key,
        bool_or(
            facts.fact_kind = 'court_enforcement'
            and (facts.fact_end is null or facts.fact_end > as_of.as_of_date)
        ) as court_enforcement_listed,
        max(facts.fact_value) filter (
            where
            facts.fact_kind = 'tax_level'
            and (facts.fact_end is null or facts.fact_end > as_of.as_of_date)
        ) as tax_level,
        max(facts.fact_value) filter (
            where
            facts.fact_kind = 'industry_level'
            and (facts.fact_end is null or facts.fact_end > as_of.as_of_date)
        ) as industry_level,
        count(*) filter (
            where
            facts.fact_kind = 'inspection'
            and facts.fact_date > as_of.as_of_date - interval '1 year'
        ) as problem_inspections_last_year
    from facts
    cross join as_of
    -- Only the facts a column counts: the years of penalties, permits and exited records
    -- would be grouped for nothing (a subject with none of these has the columns' defaults).
    where
        facts.fact_date <= as_of.as_of_date
        and (
            (
                facts.fact_kind in ('court_enforcement', 'tax_level', 'industry_level')
                and (facts.fact_end is null or facts.fact_end > as_of.as_of_date)
            )
            or (
                facts.fact_kind = 'inspection'
                and facts.fact_date > as_of.as_of_date - interval '1 year'
            )
        )
    group by facts.subject_key

),

conflicts as (

    select distinct conflicts.subject_key
    from {{ ref('fct_red_black_conflicts') }} as conflicts
    cross join as_of
    where
        conflicts.conflict_start <= as_of.as_of_date
        and (conflicts.conflict_end is null or conflicts.conflict_end > as_of.as_of_date)

),

related as (

    select
        risks.subject_key,
        count(distinct risks.related_subject_key) as related_serious_subjects
    from {{ ref('fct_related_party_risks') }} as risks
    cross join as_of
    where
        risks.risk_start <= as_of.as_of_date
        and (risks.risk_end is null or risks.risk_end > as_of.as_of_date)
    group by risks.subject_key

),

-- The measures that apply follow from the section and grade (as fct_subject_measures).
measures as (

    select
        industry_section,
        grade,
        count(distinct measure_code) as measure_count
    from {{ ref('int_domain_measures') }}
    group by industry_section, grade

),

warnings as (

    select
        subject_key,
        count(*) as open_warning_count
    from {{ ref('fct_warnings') }}
    where status <> 'closed' and subject_key is not null
    group by subject_key

),

final as (

    select
        subjects.subject_key::text as subject_key,
        as_of.as_of_date::date as as_of_date,
        subjects.subject_name::text as subject_name,
        subjects.subject_kind::text as subject_kind,
        subjects.division_code::text as division_code,
        subjects.domain_code::text as domain_code,
        subjects.domain_zh::text as domain_zh,
        grades.grade::text as grade,
        grades.score::numeric(8, 2) as score,
        grades.previous_grade::text as previous_grade,
        coalesce(dossiers.dishonesty_state, 'none')::text as dishonesty_state,
        coalesce(dossiers.active_dishonesty_count, 0)::integer as active_dishonesty_count,
        coalesce(dossiers.active_serious_count, 0)::integer as active_serious_count,
        coalesce(dossiers.active_commendation_count, 0)::integer as active_commendation_count,
        coalesce(dossiers.under_joint_punishment, false)::boolean as under_joint_punishment,
        (conflicts.subject_key is not null)::boolean as red_black_conflict,
        coalesce(related.related_serious_subjects, 0)::integer as related_serious_subjects,
        coalesce(fact_summary.court_enforcement_listed, false)::boolean as court_enforcement_listed,
        fact_summary.tax_level::text as tax_level,
        fact_summary.industry_level::text as industry_level,
        coalesce(fact_summary.problem_inspections_last_year, 0)::integer
            as problem_inspections_last_year,
        coalesce(measures.measure_count, 0)::integer as measure_count,
        coalesce(warnings.open_warning_count, 0)::integer as open_warning_count
    from subjects
    cross join as_of
    left join grades on subjects.subject_key = grades.subject_key
    left join dossiers on subjects.subject_key = dossiers.subject_key
    left join fact_summary on subjects.subject_key = fact_summary.subject_key
    left join conflicts on subjects.subject_key = conflicts.subject_key
    left join related on subjects.subject_key = related.subject_key
    left join measures
        on subjects.industry_section = measures.industry_section and grades.grade = measures.grade
    left join warnings on subjects.subject_key = warnings.subject_key

)

select * from final

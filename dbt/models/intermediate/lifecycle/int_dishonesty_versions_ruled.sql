{#- Every accepted version of every dishonesty record (失信行为认定), with the rules applied:
    the severity from the department's dishonesty list, the Order 36 publicity periods, the
    interview due when the rectification deadline passes and the measures of the severity. -#}
{#- A table, computed once a build: read by four models, the version history and the change
    log among them, each of which recomputed it as a view. -#}
{{ config(materialized='table') }}
{%- set county_timezone = var('county_timezone', 'Asia/Shanghai') -%}

with

versions as (

    select * from {{ ref('stg_raw__dishonesties') }}

),

behaviours as (

    select * from {{ ref('dishonesty_behaviours') }}

),

publicity_rules as (

    select * from {{ ref('publicity_rules') }}

),

interview_rules as (

    select * from {{ ref('interview_rules') }}

),

measures as (

    select
        severity_code,
        string_agg(measure_code, ';' order by measure_code) as applicable_measures,
        string_agg(measure_zh, '；' order by measure_code) as applicable_measures_zh,
        bool_or(joint_punishment) as joint_punishment
    from {{ ref('measures') }}
    group by severity_code

),

ordered as (

    select
        versions.*,
        (versions.updated_at at time zone '{{ county_timezone }}')::date as known_date,
        row_number() over (
            partition by versions.decision_doc_no
            order by versions.updated_at, versions.raw_row_id
        ) as version_number,
        lead(versions.updated_at) over (
            partition by versions.decision_doc_no
            order by versions.updated_at, versions.raw_row_id
        ) as superseded_at,
        lead(versions.logical_date) over (
            partition by versions.decision_doc_no
            order by versions.updated_at, versions.raw_row_id
        ) as superseded_on_night
    from versions

),

severity_ruled as (

    select
        ordered.*,
        ordered.severity_code as sent_severity_code,
        coalesce(behaviours.severity_code, ordered.severity_code) as ruled_severity_code,
        case
            when behaviours.severity_code is not null then 'dishonesty_list'
            else 'as_sent'
        end as severity_source
    from ordered
    left join behaviours
        on
            ordered.dept_code = behaviours.dept_code
            and ordered.behaviour_code = behaviours.behaviour_code

),

periods as (

    select
        severity_ruled.*,
        publicity_rules.min_publicity_months,
        publicity_rules.max_publicity_months,
        publicity_rules.repair_allowed_after,
        (
            severity_ruled.decision_date
            + make_interval(months => publicity_rules.min_publicity_months)
        )::date as publicity_min_end,
        (
            severity_ruled.decision_date
            + make_interval(months => publicity_rules.max_publicity_months)
        )::date as publicity_max_end,
        interview_rules.interview_type_code,
        (
            severity_ruled.rectification_deadline + interview_rules.days_allowed
        ) as interview_due_date,
        measures.applicable_measures,
        measures.applicable_measures_zh,
        coalesce(measures.joint_punishment, false) as joint_punishment
    from severity_ruled
    left join publicity_rules
        on severity_ruled.ruled_severity_code = publicity_rules.severity_code
    left join interview_rules
        on severity_ruled.ruled_severity_code = interview_rules.severity_code
    left join measures
        on severity_ruled.ruled_severity_code = measures.severity_code

),

changes as (

    select
        periods.*,
        coalesce(
            periods.ruled_severity_code is distinct from lag(periods.ruled_severity_code)
                over (
                    partition by periods.decision_doc_no order by periods.version_number
                )
            and periods.version_number > 1,
            false
        ) as severity_changed
    from periods

),

final as (

    select
        decision_doc_no || '#' || version_number as dishonesty_version_key,
        decision_doc_no,
        version_number,
        raw_row_id,
        batch_id,
        source_ref,
        logical_date,
        record_id,
        updated_at,
        known_date,
        superseded_at,
        superseded_on_night,
        change_type,
        change_type_code,
        dept_code,
        subject_key,
        subject_name,
        subject_type_code,
        uscc,
        id_number_masked,
        behaviour_code,
        behaviour,
        sent_severity_code,
        ruled_severity_code as severity_code,
        severity_source,
        severity_changed,
        decision_date,
        rectification_deadline,
        publicity_until as sent_publicity_until,
        min_publicity_months,
        max_publicity_months,
        repair_allowed_after,
        publicity_min_end,
        publicity_max_end,
        interview_type_code,
        interview_due_date,
        applicable_measures,
        applicable_measures_zh,
        joint_punishment,
        authority,
        remarks
    from changes

)

select * from final

{#- The credit dossier (信用档案) of every subject on the as-of date: its active dishonesty by
    severity, the state of their lifecycles, open rectifications and interviews, repairs,
    objections, its commendations (红名单, incentive list) and its records of every kind. -#}

{%- set kinds = [
    'dishonesties', 'rectifications', 'interviews', 'credit_repairs',
    'objections', 'commitments', 'commendations', 'penalties',
] -%}

with

as_of as (

    select * from {{ ref('int_lifecycle_as_of') }}

),

records as (

    select * from {{ ref('fct_dishonesty_records') }}

),

measure_names as (

    select distinct
        measure_code,
        measure_zh
    from {{ ref('measures') }}

),

commendation_versions as (

    select * from {{ ref('stg_raw__commendations') }}

),

all_versions as (

    {% for kind in kinds %}
        select
            subject_key,
            subject_name,
            record_kind,
            record_key,
            updated_at,
            raw_row_id,
            logical_date
        from {{ ref('stg_raw__' ~ kind ~ '') }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

known_versions as (

    select all_versions.*
    from all_versions
    cross join as_of
    where
        {{ known_on_as_of('all_versions') }}
        and all_versions.subject_key is not null

),

subject_names as (

    select distinct on (subject_key)
        subject_key,
        subject_name
    from known_versions
    order by subject_key asc, updated_at desc, raw_row_id desc

),

kind_counts as (

    select
        subject_key,
        count(distinct record_key) filter (
            where record_kind = 'dishonesty'
        ) as dishonesty_records,
        count(distinct record_key) filter (
            where record_kind = 'rectification'
        ) as rectification_records,
        count(distinct record_key) filter (
            where record_kind = 'interview'
        ) as interview_records,
        count(distinct record_key) filter (
            where record_kind = 'credit_repair'
        ) as credit_repair_records,
        count(distinct record_key) filter (
            where record_kind = 'objection'
        ) as objection_records,
        count(distinct record_key) filter (
            where record_kind = 'commitment'
        ) as commitment_records,
        count(distinct record_key) filter (
            where record_kind = 'commendation'
        ) as commendation_records,
        count(distinct record_key) filter (
            where record_kind = 'penalty'
        ) as penalty_records
    from known_versions
    group by subject_key

),

dishonesty as (

    select
        records.subject_key,
        count(*) filter (where records.is_active) as active_dishonesty_count,
        count(*) filter (
            where records.is_active and records.severity_code = 'minor'
        ) as active_minor_count,
        count(*) filter (
            where records.is_active and records.severity_code = 'general'
        ) as active_general_count,
        count(*) filter (
            where records.is_active and records.severity_code = 'serious'
        ) as active_serious_count,
        count(*) filter (where not records.is_active) as exited_dishonesty_count,
        count(*) filter (where records.under_objection) as under_objection_count,
        count(*) filter (
            where records.is_active
            and records.rectification_outcome in ('pending', 'not_rectified')
        ) as open_rectification_count,
        count(*) filter (
            where records.is_active and records.rectification_outcome = 'not_rectified'
        ) as overdue_rectification_count,
        count(*) filter (
            where
            (
                records.reminder_interview_due_date is not null
                and records.reminder_interview_date is null
            )
            or (
                records.warning_interview_due_date is not null
                and records.warning_interview_date is null
            )
        ) as open_interview_count,
        count(records.reminder_interview_date) + count(records.warning_interview_date)
            as held_interview_count,
        count(*) filter (
            where
            records.is_active
            and records.repair_eligible_date <= as_of.as_of_date
            and records.repair_application_date is null
        ) as repair_eligible_count,
        count(records.repair_application_date) as repair_application_count,
        count(*) filter (where records.exit_reason = 'repair') as repaired_count,
        count(*) filter (where records.objection_state = 'pending') as pending_objection_count,
        count(*) filter (where records.objection_state = 'closed') as closed_objection_count,
        bool_or(records.is_active and records.joint_punishment) as under_joint_punishment
    from records
    cross join as_of
    group by records.subject_key

),

measures as (

    select
        records.subject_key,
        string_agg(distinct measure.measure_code, ';' order by measure.measure_code)
            as applicable_measures,
        string_agg(distinct measure_names.measure_zh, '；' order by measure_names.measure_zh)
            as applicable_measures_zh
    from records
    cross join
        lateral unnest(string_to_array(records.applicable_measures, ';')) as measure (measure_code)
    inner join measure_names on measure.measure_code = measure_names.measure_code
    where records.is_active
    group by records.subject_key

),

known_commendations as (

    select
        commendation_versions.*,
        as_of.as_of_date,
        row_number() over (
            partition by commendation_versions.record_key
            order by commendation_versions.updated_at desc, commendation_versions.raw_row_id desc
        ) as known_rank
    from commendation_versions
    cross join as_of
    where
        {{ known_on_as_of('commendation_versions') }}
        and commendation_versions.award_date <= as_of.as_of_date
        and commendation_versions.subject_key is not null

),

commendations as (

    -- The incentive list (红名单): honours in force on the as-of date.
    select
        subject_key,
        count(*) as active_commendation_count,
        string_agg(honour_name, ';' order by honour_name) as active_commendations
    from known_commendations
    where
        known_rank = 1
        and change_type_code <> 'revoke'
        and valid_to >= as_of_date
    group by subject_key

),

final as (

    select
        subject_names.subject_key::text as subject_key,
        as_of.as_of_date::date as as_of_date,
        subject_names.subject_name::text as subject_name,
        case
            when dishonesty.active_serious_count > 0 then 'serious'
            when dishonesty.active_general_count > 0 then 'general'
            when dishonesty.active_minor_count > 0 then 'minor'
            when dishonesty.exited_dishonesty_count > 0 then 'exited'
            else 'none'
        end::text as dishonesty_state,
        coalesce(dishonesty.active_dishonesty_count, 0)::integer as active_dishonesty_count,
        coalesce(dishonesty.active_minor_count, 0)::integer as active_minor_count,
        coalesce(dishonesty.active_general_count, 0)::integer as active_general_count,
        coalesce(dishonesty.active_serious_count, 0)::integer as active_serious_count,
        coalesce(dishonesty.exited_dishonesty_count, 0)::integer as exited_dishonesty_count,
        coalesce(dishonesty.under_objection_count, 0)::integer as under_objection_count,
        coalesce(dishonesty.open_rectification_count, 0)::integer as open_rectification_count,
        coalesce(dishonesty.overdue_rectification_count, 0)::integer
            as overdue_rectification_count,
        coalesce(dishonesty.open_interview_count, 0)::integer as open_interview_count,
        coalesce(dishonesty.held_interview_count, 0)::integer as held_interview_count,
        coalesce(dishonesty.repair_eligible_count, 0)::integer as repair_eligible_count,
        coalesce(dishonesty.repair_application_count, 0)::integer as repair_application_count,
        coalesce(dishonesty.repaired_count, 0)::integer as repaired_count,
        coalesce(dishonesty.pending_objection_count, 0)::integer as pending_objection_count,
        coalesce(dishonesty.closed_objection_count, 0)::integer as closed_objection_count,
        coalesce(dishonesty.under_joint_punishment, false)::boolean as under_joint_punishment,
        measures.applicable_measures::text as applicable_measures,
        measures.applicable_measures_zh::text as applicable_measures_zh,
        coalesce(commendations.active_commendation_count, 0)::integer
            as active_commendation_count,
        commendations.active_commendations::text as active_commendations,
        coalesce(kind_counts.dishonesty_records, 0)::integer as dishonesty_records,
        coalesce(kind_counts.rectification_records, 0)::integer as rectification_records,
        coalesce(kind_counts.interview_records, 0)::integer as interview_records,
        coalesce(kind_counts.credit_repair_records, 0)::integer as credit_repair_records,
        coalesce(kind_counts.objection_records, 0)::integer as objection_records,
        coalesce(kind_counts.commitment_records, 0)::integer as commitment_records,
        coalesce(kind_counts.commendation_records, 0)::integer as commendation_records,
        coalesce(kind_counts.penalty_records, 0)::integer as penalty_records
    from subject_names
    cross join as_of
    left join dishonesty on subject_names.subject_key = dishonesty.subject_key
    left join measures on subject_names.subject_key = measures.subject_key
    left join commendations on subject_names.subject_key = commendations.subject_key
    left join kind_counts on subject_names.subject_key = kind_counts.subject_key

)

select * from final

{#- 公示期限 Each permit, penalty and dishonesty record the portal may publish
    (int_publicity_candidates), with what does not depend on the day it is read: its publicity
    period and, for a record repaired, revoked or corrected, the change, the day the warehouse
    learned of it (int_publicity_withdrawals_known) and the working day by which it must be off
    the portal (seeds publicity_record_kinds, working_days). fct_publicity_records dates it.

    Incremental: a night writes the permits and penalties whose versions staging wrote since the
    last build (or which its as-of night did not know yet), and the dishonesty records whose
    row differs from the one stored (all of them are computed: the lifecycle marts are rebuilt
    every night). Every record is written again, into the emptied table, when a rule behind the
    periods changed or the as-of date went back; the post-hook deletes the dishonesty records
    that are no more and records what the build read (macros/publicity/publicity_periods.sql).
    A full refresh computes every record. -#}
-- Read by an incremental build and its post-hook only:
-- depends_on: {{ ref('stg_raw__permits') }}
-- depends_on: {{ ref('stg_raw__penalties') }}
-- depends_on: {{ ref('publicity_rules') }}
-- depends_on: {{ ref('penalty_publicity_tiers') }}
{#- What the last build read (intermediate.publicity_periods_state). Every record is written
    again on a first or full build, when the rules changed since, or when the as-of date went
    back (the state held versions landed after it); else the records staged since, or landed
    after the last build's as-of night and by tonight's. -#}
{%- set every_record = not is_incremental() -%}
{%- set since = {} -%}
{%- if is_incremental() and execute -%}
    {%- set state = run_query(
        "select permits_staged_at::text, penalties_staged_at::text, as_of_date::text"
        " from intermediate.publicity_periods_state where " ~ publicity_periods_state_holds()
    ).rows -%}
    {%- if not state -%}
        {%- set every_record = true -%}
    {%- else -%}
        {%- do since.update({
            'permit': state[0][0] or '-infinity',
            'penalty': state[0][1] or '-infinity',
            'as_of': state[0][2],
        }) -%}
    {%- endif -%}
{%- endif -%}
{{
    config(
        materialized='incremental',
        unique_key='publicity_record_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        pre_hook="{{ reset_publicity_periods() }}",
        post_hook="{{ store_publicity_periods_state() }}",
    )
}}

with

record_kinds as (

    select * from {{ ref('publicity_record_kinds') }}

),

working_days as (

    select * from {{ ref('working_days') }}

),

withdrawals_known as (

    select * from {{ ref('int_publicity_withdrawals_known') }}

),

-- The records to write: every one, or every dishonesty record and the permits and penalties
-- of the versions staged since the last build or landed after its as-of night (by staging's
-- staged_at and logical_date indexes). Each kind reads the candidates apart (a CTE read three
-- times would be computed whole), so that its filter reaches the candidates' ranking, which
-- then reads those records' versions by the record_key index.
changed as (

    {% if every_record %}
        select * from {{ ref('int_publicity_candidates') }}
    {% else %}
        select * from {{ ref('int_publicity_candidates') }}
        where record_kind = 'dishonesty'
        {% for kind, staged in [
            ('permit', ref('stg_raw__permits')), ('penalty', ref('stg_raw__penalties'))
        ] %}
            union all
            select * from {{ ref('int_publicity_candidates') }}
            where
                record_kind = '{{ kind }}'
                and record_key = any(array(
                    select versions.record_key
                    from {{ staged }} as versions
                    where
                        versions.staged_at > '{{ since[kind] }}'::timestamptz
                        or versions.logical_date > '{{ since['as_of'] }}'::date
                ))
        {% endfor %}
    {% endif %}

),

learned as (

    -- The day the warehouse learned of the change: a permit's or penalty's revocation the night
    -- its 撤销 version was landed, normally the day it was stamped (greatest() skips nulls).
    select
        changed.*,
        coalesce(
            withdrawals_known.withdrawal_known_date,
            greatest(changed.withdrawal_date, changed.withdrawal_landed_date)
        ) as withdrawal_known_date
    from changed
    left join withdrawals_known
        on changed.publicity_record_id = withdrawals_known.publicity_record_id

),

deadlines as (

    -- The Nth working day after the change: the working day numbered the change day's + N;
    -- likewise after the day the change was learned.
    select
        learned.*,
        record_kinds.record_kind_zh,
        deadline_day.calendar_date as withdrawal_deadline,
        learned_deadline_day.calendar_date as learned_deadline
    from learned
    inner join record_kinds on learned.record_kind = record_kinds.record_kind
    left join working_days as change_day
        on learned.withdrawal_date = change_day.calendar_date
    left join working_days as deadline_day
        on
            change_day.working_day_number + record_kinds.withdrawal_working_days
            = deadline_day.working_day_number
            and deadline_day.is_working_day
    left join working_days as learned_day
        on learned.withdrawal_known_date = learned_day.calendar_date
    left join working_days as learned_deadline_day
        on
            learned_day.working_day_number + record_kinds.withdrawal_working_days
            = learned_deadline_day.working_day_number
            and learned_deadline_day.is_working_day

),

final as (

    select
        deadlines.publicity_record_id::text as publicity_record_id,
        deadlines.record_kind::text as record_kind,
        deadlines.record_kind_zh::text as record_kind_zh,
        deadlines.dept_code::text as dept_code,
        deadlines.doc_no::text as doc_no,
        deadlines.subject_key::text as subject_key,
        deadlines.subject_name::text as subject_name,
        deadlines.subject_type_code::text as subject_type_code,
        deadlines.subject_identifier::text as subject_identifier,
        deadlines.category::text as category,
        deadlines.content::text as content,
        deadlines.decision_date::date as decision_date,
        deadlines.severity_code::text as severity_code,
        deadlines.published_in_principle::boolean as published_in_principle,
        deadlines.publicity_start::date as publicity_start,
        deadlines.publicity_end::date as publicity_end,
        deadlines.publicity_end_basis::text as publicity_end_basis,
        deadlines.in_force::boolean as in_force,
        deadlines.under_objection::boolean as under_objection,
        deadlines.withdrawal_reason_code::text as withdrawal_reason_code,
        deadlines.withdrawal_date::date as withdrawal_date,
        deadlines.withdrawal_known_date::date as withdrawal_known_date,
        deadlines.withdrawal_deadline::date as withdrawal_deadline,
        deadlines.learned_deadline::date as learned_deadline,
        deadlines.raw_row_id::bigint as raw_row_id
    from deadlines

)

select final.*
from final
{%- if not every_record %}
    -- A dishonesty record is written when its row changed: most nights a few of them. The
    -- rows compare column by column: the contract gives the table the columns of final, in order.
    where
        final.record_kind <> 'dishonesty'
        or not exists (
            select from {{ this }} as kept
            where
                kept.publicity_record_id = final.publicity_record_id
                and row(kept.*) is not distinct from row(final.*)
        )
{%- endif %}

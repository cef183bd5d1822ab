{#- 公示信息 What the credit office's portal may publish on the as-of date, and what it must
    take down: every permit, penalty and dishonesty record known then (int_publicity_candidates)
    with its publicity status and, for a record repaired, revoked or corrected, the working day
    by which it must be off the portal (seeds publicity_record_kinds, working_days). A change the
    warehouse learned only after that day (int_publicity_withdrawals_known) is late (逾期撤下):
    it is to be taken down within as many working days of the day it was learned. -#}

with

candidates as (

    select * from {{ ref('int_publicity_candidates') }}

),

record_kinds as (

    select * from {{ ref('publicity_record_kinds') }}

),

departments as (

    select * from {{ ref('departments') }}

),

working_days as (

    select * from {{ ref('working_days') }}

),

withdrawals_known as (

    select * from {{ ref('int_publicity_withdrawals_known') }}

),

learned as (

    -- The day the warehouse learned of the change: a permit's or penalty's revocation the night
    -- its 撤销 version was landed, normally the day it was stamped (greatest() skips nulls).
    select
        candidates.*,
        coalesce(
            withdrawals_known.withdrawal_known_date,
            greatest(candidates.withdrawal_date, candidates.withdrawal_landed_date)
        ) as withdrawal_known_date
    from candidates
    left join withdrawals_known
        on candidates.publicity_record_id = withdrawals_known.publicity_record_id

),

deadlines as (

    -- The Nth working day after the change: the working day numbered the change day's + N;
    -- likewise after the day the change was learned.
    select
        learned.*,
        record_kinds.record_kind_zh,
        record_kinds.withdrawal_working_days,
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

statuses as (

    select
        deadlines.*,
        case
            when not deadlines.published_in_principle then 'not_published'
            -- A change after the period ended takes down nothing.
            when deadlines.withdrawal_date < deadlines.publicity_end then 'withdrawn'
            when deadlines.as_of_date >= deadlines.publicity_end or not deadlines.in_force
                then 'ended'
            else 'published'
        end as publicity_status_code
    from deadlines

),

final as (

    select
        statuses.publicity_record_id::text as publicity_record_id,
        statuses.as_of_date::date as as_of_date,
        statuses.record_kind::text as record_kind,
        statuses.record_kind_zh::text as record_kind_zh,
        statuses.dept_code::text as dept_code,
        departments.name_zh::text as dept_name,
        statuses.doc_no::text as doc_no,
        statuses.subject_key::text as subject_key,
        statuses.subject_name::text as subject_name,
        statuses.subject_type_code::text as subject_type_code,
        statuses.subject_identifier::text as subject_identifier,
        statuses.category::text as category,
        statuses.content::text as content,
        statuses.decision_date::date as decision_date,
        statuses.severity_code::text as severity_code,
        statuses.published_in_principle::boolean as published_in_principle,
        statuses.publicity_start::date as publicity_start,
        statuses.publicity_end::date as publicity_end,
        statuses.publicity_end_basis::text as publicity_end_basis,
        statuses.under_objection::boolean as under_objection,
        statuses.publicity_status_code::text as publicity_status_code,
        (statuses.publicity_status_code = 'published')::boolean as is_listed,
        case
            when statuses.publicity_status_code = 'withdrawn'
                then statuses.withdrawal_reason_code
        end::text as withdrawal_reason_code,
        case
            when statuses.publicity_status_code = 'withdrawn' then statuses.withdrawal_date
        end::date as withdrawal_date,
        case
            when statuses.publicity_status_code = 'withdrawn'
                then statuses.withdrawal_deadline
        end::date as withdrawal_deadline,
        case
            when statuses.publicity_status_code = 'withdrawn'
                then statuses.withdrawal_known_date
        end::date as withdrawal_known_date,
        coalesce(
            statuses.publicity_status_code = 'withdrawn'
            and statuses.withdrawal_known_date > statuses.withdrawal_deadline,
            false
        )::boolean as withdrawal_late,
        -- Pending until the deadline; a late one until N working days after it was learned,
        -- so that it is on the list of the night it became known.
        coalesce(
            statuses.publicity_status_code = 'withdrawn'
            and (
                statuses.as_of_date <= statuses.withdrawal_deadline
                or (
                    statuses.withdrawal_known_date > statuses.withdrawal_deadline
                    and statuses.as_of_date <= statuses.learned_deadline
                )
            ),
            false
        )::boolean as withdrawal_pending,
        statuses.raw_row_id::bigint as raw_row_id
    from statuses
    inner join departments on statuses.dept_code = departments.dept_code

)

select * from final

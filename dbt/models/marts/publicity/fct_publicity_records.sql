{#- 公示信息 What the credit office's portal may publish on the as-of date, and what it must
    take down: each record of fct_publicity_periods with its status on that day. A record
    repaired, revoked or corrected during its period is withdrawn, to be off the portal by its
    withdrawal deadline; one the warehouse learned of only after that day is late (逾期撤下), to
    be taken down within as many working days of the day it was learned.

    A view: the periods are stored by record and change only with their records; the day's
    status is computed when read. Rebuilt every night as a table, it cost what the county's
    history holds (docs/warehouse.md). It reads fct_publicity_periods as its reader
    (security_invoker), whose row-level security is then the records'. -#}
{{ config(
    materialized='view',
    post_hook="alter view {{ this }} set (security_invoker = true)",
) }}

with

periods as (

    select * from {{ ref('fct_publicity_periods') }}

),

-- The as-of date written into the view (int_lifecycle_as_of's): the reader may read no
-- intermediate model.
as_of as (

    select {{ as_of_date_expression() }} as as_of_date

),

departments as (

    select * from {{ ref('departments') }}

),

statuses as (

    select
        periods.*,
        as_of.as_of_date,
        case
            when not periods.published_in_principle then 'not_published'
            -- A change after the period ended takes down nothing.
            when periods.withdrawal_date < periods.publicity_end then 'withdrawn'
            when as_of.as_of_date >= periods.publicity_end or not periods.in_force then 'ended'
            else 'published'
        end as publicity_status_code
    from periods
    cross join as_of

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

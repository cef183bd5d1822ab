{#- 预警处置反馈 What each department reported of the warnings it received, as of the as-of date:
    per warning and department, the day it signed for it (已签收) and the day it closed it
    (已办结), with who did. Each action is its record's version latest among those the
    warehouse had received by the as-of date; one revoked at the source (撤销) does not count,
    nor one dated after the as-of date. -#}

with

as_of as (

    select as_of_date from {{ ref('int_lifecycle_as_of') }}

),

received as (

    select
        feedback.*,
        row_number() over (
            partition by feedback.record_key
            order by feedback.updated_at desc, feedback.raw_row_id desc
        ) as recency
    from {{ ref('stg_raw__warning_feedback') }} as feedback
    cross join as_of
    where {{ known_on_as_of('feedback') }}

),

actions as (

    select received.*
    from received
    cross join as_of
    where
        received.recency = 1
        and received.change_type_code <> 'revoke'
        and received.handling_date <= as_of.as_of_date

),

final as (

    select
        warning_id,
        dept_code,
        min(handling_date) filter (where handling_code = 'acknowledged') as acknowledged_date,
        min(handled_by) filter (where handling_code = 'acknowledged') as acknowledged_by,
        min(handling_date) filter (where handling_code = 'closed') as closed_date,
        min(handled_by) filter (where handling_code = 'closed') as closed_by
    from actions
    group by warning_id, dept_code

)

select * from final

{#- Daily stock and flows of every slice, for records and for subjects: inflow on the day an
    interval starts, exit (by reason) on the day it ends, transfer in and out (转入、转出) on the
    day the subject's division, domain or grade changed, stock at the end of each day of the
    monitoring window. Intervals that started before the window count on its opening day
    (window_start - 1), so stock_end of that day is the opening stock; those that also ended
    before it change no day of the window (their slice keeps its rows, of zeros), so only the
    years of history leave them out of the events. -#}

with

window_bounds as (

    select * from {{ ref('int_monitoring_window') }}

),

intervals as (

    select
        'records' as unit,
        dimension,
        dimension_value,
        start_date,
        end_date,
        exit_reason,
        starts_by_transfer
    from {{ ref('int_dishonesty_intervals') }}
    union all
    select
        'subjects' as unit,
        dimension,
        dimension_value,
        start_date,
        end_date,
        exit_reason,
        starts_by_transfer
    from {{ ref('int_dishonesty_subject_spells') }}

),

clipped as (

    select
        intervals.unit,
        intervals.dimension,
        intervals.dimension_value,
        greatest(intervals.start_date, window_bounds.window_start - 1) as start_day,
        case
            when intervals.end_date is null or intervals.end_date > window_bounds.window_end
                then null
            else greatest(intervals.end_date, window_bounds.window_start - 1)
        end as end_day,
        intervals.exit_reason,
        intervals.starts_by_transfer
    from intervals
    cross join window_bounds
    where
        intervals.start_date <= window_bounds.window_end
        and (intervals.end_date is null or intervals.end_date >= window_bounds.window_start)

),

slices as (

    select distinct
        intervals.unit,
        intervals.dimension,
        intervals.dimension_value
    from intervals
    cross join window_bounds
    where intervals.start_date <= window_bounds.window_end

),

days as (

    select spine.spine_date::date as flow_date
    from window_bounds
    cross join lateral generate_series(
        window_bounds.window_start - 1, window_bounds.window_end, interval '1 day'
    ) as spine (spine_date)

),

-- Every slice on every day with nothing, each interval's start and end as one event, summed
-- per slice and day (a join of the days to the starts and ends compared every day with every
-- start of its slice).
events as (

    select
        slices.unit,
        slices.dimension,
        slices.dimension_value,
        days.flow_date,
        0 as inflow,
        0 as transfer_in,
        0 as exit_total,
        0 as exit_repair,
        0 as exit_expiry,
        0 as exit_revocation,
        0 as transfer_out
    from slices
    cross join days
    union all
    select
        unit,
        dimension,
        dimension_value,
        start_day as flow_date,
        (not starts_by_transfer)::integer as inflow,
        starts_by_transfer::integer as transfer_in,
        0 as exit_total,
        0 as exit_repair,
        0 as exit_expiry,
        0 as exit_revocation,
        0 as transfer_out
    from clipped
    union all
    select
        unit,
        dimension,
        dimension_value,
        end_day as flow_date,
        0 as inflow,
        0 as transfer_in,
        (exit_reason <> 'transfer')::integer as exit_total,
        (exit_reason = 'repair')::integer as exit_repair,
        (exit_reason = 'expiry')::integer as exit_expiry,
        (exit_reason = 'revocation')::integer as exit_revocation,
        (exit_reason = 'transfer')::integer as transfer_out
    from clipped
    where end_day is not null

),

flows as (

    select
        unit,
        dimension,
        dimension_value,
        flow_date,
        sum(inflow) as inflow,
        sum(transfer_in) as transfer_in,
        sum(exit_total) as exit_total,
        sum(exit_repair) as exit_repair,
        sum(exit_expiry) as exit_expiry,
        sum(exit_revocation) as exit_revocation,
        sum(transfer_out) as transfer_out
    from events
    group by unit, dimension, dimension_value, flow_date

),

final as (

    select
        *,
        sum(inflow + transfer_in - exit_total - transfer_out) over (
            partition by unit, dimension, dimension_value order by flow_date
        ) as stock_end
    from flows

)

select * from final

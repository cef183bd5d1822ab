{#- Stock, inflow, exit and distribution of dishonesty (失信存量、增量、退出、分布) per day,
    month and quarter of the monitoring window, by dimension, for records and for subjects.
    stock_start is the stock at the end of the day before the period, stock_end at the end of
    its last day (the as-of date for the running month and quarter), so on every row
    stock_end = stock_start + inflow + transfer_in - exit_total - transfer_out: stock_start is
    computed so, from the closing stock and the period's flows (the days' stock is their running
    sum). A transfer (转入、转出) moves a record or subject between the slices of division,
    domain or grade on the day its subject's attribute changed (int_dishonesty_intervals); the
    other dimensions have none. -#}

with

daily as (

    select * from {{ ref('int_dishonesty_daily_flows') }}

),

window_bounds as (

    select * from {{ ref('int_monitoring_window') }}

),

in_periods as (

    select
        grains.grain,
        case grains.grain
            when 'day' then daily.flow_date
            else date_trunc(grains.grain, daily.flow_date)::date
        end as period_start,
        daily.*
    from daily
    cross join window_bounds
    cross join (values ('day'), ('month'), ('quarter')) as grains (grain)
    where daily.flow_date >= window_bounds.window_start

),

aggregated as (

    select
        grain,
        period_start,
        max(flow_date) as period_end,
        unit,
        dimension,
        dimension_value,
        sum(inflow) as inflow,
        sum(transfer_in) as transfer_in,
        sum(exit_total) as exit_total,
        sum(exit_repair) as exit_repair,
        sum(exit_expiry) as exit_expiry,
        sum(exit_revocation) as exit_revocation,
        sum(transfer_out) as transfer_out
    from in_periods
    group by grain, period_start, unit, dimension, dimension_value

),

final as (

    select
        (
            aggregated.grain || '|' || aggregated.period_start::text || '|'
            || aggregated.dimension || '|' || aggregated.dimension_value || '|' || aggregated.unit
        )::text as metric_key,
        aggregated.grain::text as grain,
        aggregated.period_start::date as period_start,
        aggregated.period_end::date as period_end,
        aggregated.dimension::text as dimension,
        aggregated.dimension_value::text as dimension_value,
        aggregated.unit::text as unit,
        (
            closing.stock_end - aggregated.inflow - aggregated.transfer_in
            + aggregated.exit_total + aggregated.transfer_out
        )::bigint as stock_start,
        aggregated.inflow::bigint as inflow,
        aggregated.transfer_in::bigint as transfer_in,
        aggregated.exit_total::bigint as exit_total,
        aggregated.exit_repair::bigint as exit_repair,
        aggregated.exit_expiry::bigint as exit_expiry,
        aggregated.exit_revocation::bigint as exit_revocation,
        aggregated.transfer_out::bigint as transfer_out,
        closing.stock_end::bigint as stock_end,
        window_bounds.window_end::date as as_of_date
    from aggregated
    cross join window_bounds
    inner join daily as closing
        on
            aggregated.unit = closing.unit
            and aggregated.dimension = closing.dimension
            and aggregated.dimension_value = closing.dimension_value
            and aggregated.period_end = closing.flow_date

)

select * from final

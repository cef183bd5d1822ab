{#- The quarters of the monitoring window (监测期), each with its first and last day and its
    label (2026Q1): what quarterly plans and reports are made for. -#}
with

window_bounds as (

    select * from {{ ref('int_monitoring_window') }}

),

final as (

    select
        spine.quarter_start::date as quarter_start,
        (spine.quarter_start + interval '3 months' - interval '1 day')::date as quarter_end,
        to_char(spine.quarter_start, 'YYYY"Q"Q') as quarter_label
    from window_bounds
    cross join lateral generate_series(
        window_bounds.window_start, window_bounds.window_end, interval '3 months'
    ) as spine (quarter_start)

)

select * from final

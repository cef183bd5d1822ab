{#- The monitoring window (监测期): from the first day of the quarter
    `monitoring_history_quarters` - 1 quarters before the as-of date's quarter, to the as-of
    date. Stock before it enters as the first day's opening stock. -#}
{%- set history_quarters = var('monitoring_history_quarters', 4) -%}

with

as_of as (

    select as_of_date from {{ ref('int_lifecycle_as_of') }}

),

final as (

    select
        (
            date_trunc('quarter', as_of_date)
            - interval '3 months' * ({{ history_quarters }} - 1)
        )::date as window_start,
        as_of_date as window_end
    from as_of

)

select * from final

{#- 存量平衡 On every slice of fct_dishonesty_metrics: stock_end = stock_start + inflow +
    transfer_in - exit - transfer_out,
    exits add up by reason, and each period's opening stock is the previous period's closing
    stock. Returns the rows that break it. -#}

with

metrics as (

    select * from {{ ref('fct_dishonesty_metrics') }}

),

unbalanced as (

    select
        metric_key,
        'stock_end <> stock_start + inflow + transfer_in - exit_total - transfer_out' as problem
    from metrics
    where stock_end <> stock_start + inflow + transfer_in - exit_total - transfer_out

),

reasons as (

    select
        metric_key,
        'exit reasons do not add up' as problem
    from metrics
    where exit_total <> exit_repair + exit_expiry + exit_revocation

),

chained as (

    select
        metric_key,
        stock_start,
        lag(stock_end) over (
            partition by grain, dimension, dimension_value, unit order by period_start
        ) as previous_stock_end
    from metrics

),

broken_chain as (

    select
        metric_key,
        'stock_start differs from the previous period''s stock_end' as problem
    from chained
    where previous_stock_end is not null and stock_start <> previous_stock_end

),

final as (

    select * from unbalanced
    union all
    select * from reasons
    union all
    select * from broken_chain

)

select * from final

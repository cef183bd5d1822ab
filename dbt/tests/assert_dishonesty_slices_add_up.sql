{#- 分布合计 On every day of fct_dishonesty_metrics, the slices of a dimension add up to the
    whole stock: each record is in one department, severity, subject type, division, domain and
    grade a day, and each subject in one subject type, division, domain and grade (its division,
    domain and grade those it had that day, int_dishonesty_subject_periods; a subject with
    records of two departments counts in both). Returns the days and dimensions that do not. -#}

with

days as (

    select * from {{ ref('fct_dishonesty_metrics') }}
    where grain = 'day'

),

whole as (

    select
        unit,
        period_start,
        stock_end
    from days
    where dimension = 'all'

),

sliced as (

    select
        unit,
        period_start,
        dimension,
        sum(stock_end) as stock_end
    from days
    where
        dimension <> 'all'
        and (unit = 'records' or dimension in ('subject_type', 'division', 'domain', 'grade'))
    group by unit, period_start, dimension

),

final as (

    select
        sliced.unit,
        sliced.period_start,
        sliced.dimension,
        sliced.stock_end as slices_stock_end,
        whole.stock_end as whole_stock_end
    from sliced
    inner join whole
        on sliced.unit = whole.unit and sliced.period_start = whole.period_start
    where sliced.stock_end <> whole.stock_end

)

select * from final

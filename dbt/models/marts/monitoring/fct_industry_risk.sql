{#- Industry risk (行业风险): each domain's dishonesty rate at the end of each quarter of the
    monitoring window (subjects holding an active record / subjects of the domain then: those
    the warehouse had seen by the quarter's end, first_seen_date) against the end of the
    previous quarter. The running quarter compares the as-of date. -#}

with

metrics as (

    select * from {{ ref('fct_dishonesty_metrics') }}
    where grain = 'quarter' and dimension = 'domain' and unit = 'subjects'

),

domain_sizes as (

    select
        quarters.period_end,
        subjects.domain_code,
        count(*) as domain_subjects
    from (select distinct metrics.period_end from metrics) as quarters
    inner join {{ ref('int_subject_domains') }} as subjects
        on quarters.period_end >= subjects.first_seen_date
    group by quarters.period_end, subjects.domain_code

),

final as (

    select
        metrics.dimension_value as domain_code,
        to_char(metrics.period_start, 'YYYY"Q"Q') as quarter_label,
        metrics.period_start,
        metrics.period_end,
        metrics.period_end = (metrics.period_start + interval '3 months' - interval '1 day')::date
            as quarter_closed,
        domain_sizes.domain_subjects,
        metrics.stock_start as dishonest_subjects_start,
        metrics.stock_end as dishonest_subjects_end,
        round(metrics.stock_start::numeric / domain_sizes.domain_subjects, 4)::numeric(12, 4)
            as rate_start,
        round(metrics.stock_end::numeric / domain_sizes.domain_subjects, 4)::numeric(12, 4)
            as rate_end,
        round(metrics.stock_end::numeric / nullif(metrics.stock_start, 0), 4)::numeric(12, 4)
            as rate_ratio
    from metrics
    inner join domain_sizes
        on
            metrics.dimension_value = domain_sizes.domain_code
            and metrics.period_end = domain_sizes.period_end

)

select * from final

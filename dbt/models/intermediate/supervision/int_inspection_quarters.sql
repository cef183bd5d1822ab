{#- The quarter whose inspection plan (双随机抽查计划) tonight issues: the as-of date's quarter,
    when no night issued it yet (intermediate.drawn_quarters) and the warehouse has data by then
    (a batch landed for a night on or before the as-of date). So a plan is issued once, the first
    night of its quarter the warehouse builds, and kept as issued; a quarter no night built in
    (before the warehouse's first night) has none: issued afterwards, it would plan inspections
    for days gone. Recorded with it: the night it was issued and the checksum of the rules its
    draw follows (inspection_ratios, inspection_scopes, inspectors, inspection_teams, the draw
    salt), which later nights never apply to it. -#}

with

as_of as (

    select as_of_date from {{ ref('int_lifecycle_as_of') }}

),

first_night as (

    select min(batches.logical_date) as first_night
    from {{ source('audit', 'batches') }} as batches
    inner join as_of on batches.logical_date <= as_of.as_of_date

),

quarters as (

    select
        date_trunc('quarter', as_of.as_of_date)::date as quarter_start,
        as_of.as_of_date
    from as_of
    cross join first_night
    where first_night.first_night is not null

),

rule_rows as (

    select
        'ratios' as seed,
        t::text as row_text
    from {{ ref('inspection_ratios') }} as t
    union all
    select
        'scopes' as seed,
        t::text as row_text
    from {{ ref('inspection_scopes') }} as t
    union all
    select
        'inspectors' as seed,
        t::text as row_text
    from {{ ref('inspectors') }} as t
    union all
    select
        'teams' as seed,
        t::text as row_text
    from {{ ref('inspection_teams') }} as t

),

rules as (

    select
        md5(
            '{{ var("inspection_draw_salt", "jiangyin") }}#'
            || string_agg(seed || ':' || row_text, ',' order by seed, row_text)
        ) as draw_rules_md5
    from rule_rows

),

final as (

    select
        to_char(quarters.quarter_start, 'YYYY"Q"Q') as plan_quarter,
        quarters.quarter_start,
        (quarters.quarter_start + interval '3 months' - interval '1 day')::date as quarter_end,
        quarters.as_of_date as issued_date,
        rules.draw_rules_md5
    from quarters
    cross join rules
    where not exists (
        select from {{ source('inspection_state', 'drawn_quarters') }} as issued
        where issued.plan_quarter = to_char(quarters.quarter_start, 'YYYY"Q"Q')
    )

)

select * from final

{#- The quarters of the monitoring window that have inspection plans, each with the checksum of
    the rules its draw follows (inspection_ratios, inspection_scopes, the draw salt) and whether
    it is drawn already by those rules (intermediate.drawn_quarters): an issued plan is kept, and
    drawn again only when its rules changed. -#}

with

quarters as (

    select * from {{ ref('int_monitoring_quarters') }}

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
        quarters.quarter_label as plan_quarter,
        rules.draw_rules_md5,
        (drawn.plan_quarter is not null) as is_drawn
    from quarters
    cross join rules
    left join {{ source('inspection_state', 'drawn_quarters') }} as drawn
        on
            quarters.quarter_label = drawn.plan_quarter
            and rules.draw_rules_md5 = drawn.draw_rules_md5

)

select * from final

{#- The inspection plan (双随机抽查计划): one row per quarter, department and subject drawn,
    with the department's inspection items and, when other departments drew the same subject
    that quarter, the joint visit (进一次门、查多项事) that combines them.

    Incremental: a quarter's plan is issued once, the first night the quarter is in the window,
    and kept (macros/supervision/inspection_state.sql); a night appends only the quarters not
    drawn yet by tonight's rules (int_inspection_quarters), after the pre-hook drops those that
    left the window or are drawn again. Kept by a full refresh too (full_refresh=false): drawn
    again from today's grades and register, an issued plan would change under the departments
    carrying it out (a rotation of the hash key forces a full refresh). -#}

{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        full_refresh=false,
        on_schema_change='fail',
        pre_hook="{{ prune_inspection_plans() }}",
        post_hook="{{ store_drawn_quarters() }}",
    )
}}

with

draws as (

    select * from {{ ref('int_inspection_draws') }}
    {%- if is_incremental() %}
        -- A list of labels, not a subquery, so the filter reaches the draw's window functions.
        where plan_quarter = any({{ quarters_to_draw() }})
    {%- endif %}

),

items as (

    select
        dept_code,
        string_agg(distinct inspection_items_zh, '；') as inspection_items
    from {{ ref('inspection_scopes') }}
    group by dept_code

),

joint as (

    select
        plan_quarter,
        subject_key
    from draws
    group by plan_quarter, subject_key
    having count(*) > 1

),

final as (

    select
        (draws.plan_quarter || '|' || draws.dept_code || '|' || draws.subject_key)::text
            as plan_item_key,
        draws.plan_quarter::text as plan_quarter,
        draws.quarter_start::date as quarter_start,
        draws.quarter_end::date as quarter_end,
        draws.dept_code::text as dept_code,
        draws.subject_key::text as subject_key,
        draws.subject_name::text as subject_name,
        draws.domain_code::text as domain_code,
        draws.grade::text as grade,
        draws.grade_date::date as grade_date,
        draws.draw_seed::text as draw_seed,
        draws.draw_rank::integer as draw_rank,
        draws.grade_population::integer as grade_population,
        draws.sample_size::integer as sample_size,
        (
            case
                when joint.subject_key is not null
                    then 'JV-' || draws.plan_quarter || '-' || left(md5(draws.subject_key), 12)
            end
        )::text as joint_visit_id,
        items.inspection_items::text as inspection_items
    from draws
    left join joint
        on draws.plan_quarter = joint.plan_quarter and draws.subject_key = joint.subject_key
    left join items on draws.dept_code = items.dept_code

)

select * from final

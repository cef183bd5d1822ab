{#- The inspection plan (双随机抽查计划): one row per quarter, department and subject drawn,
    with the officers drawn to inspect it, the department's inspection items and, when other
    departments drew the same subject that quarter, the joint visit (进一次门、查多项事) that
    combines them.

    Issued once and never changed: a quarter's plan is drawn the first night of the quarter the
    warehouse builds (int_inspection_quarters), from the subjects and grades known that night,
    and appended; later nights append nothing to it and delete nothing from it, whatever the
    rules or the register become (an incremental model that only appends: dbt keeps the table
    between nights, and the draw, a view, is computed only on the night it issues). Kept by a
    full refresh too (full_refresh=false): drawn again, an issued plan would change under the
    departments carrying it out (a rotation of the hash key forces a full refresh). A table of
    an earlier release gets the new columns, null for the plans it drew
    (on_schema_change='append_new_columns'). -#}

{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        full_refresh=false,
        on_schema_change='append_new_columns',
        post_hook="{{ store_issued_quarters() }}",
    )
}}

with

draws as (

    select * from {{ ref('int_inspection_draws') }}

),

teams as (

    select * from {{ ref('int_inspection_teams_drawn') }}

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
        draws.issued_date::date as issued_date,
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
        items.inspection_items::text as inspection_items,
        teams.inspector_codes::text as inspector_codes,
        teams.inspector_names::text as inspector_names
    from draws
    left join joint
        on draws.plan_quarter = joint.plan_quarter and draws.subject_key = joint.subject_key
    left join items on draws.dept_code = items.dept_code
    left join teams
        on
            draws.plan_quarter = teams.plan_quarter
            and draws.dept_code = teams.dept_code
            and draws.subject_key = teams.subject_key

)

select * from final

{#- The officers (执法检查人员) sent to each subject drawn tonight (随机选派): the first
    `inspectors_per_inspection` (inspection_teams) of the drawing department's enabled roster
    (inspectors) in the order of md5(draw_seed || '|' || subject_key || '|' || inspector_code),
    so each subject gets its own team, at random and reproducibly from the plan's recorded
    seed. -#}

with

draws as (

    select
        plan_quarter,
        dept_code,
        subject_key,
        draw_seed
    from {{ ref('int_inspection_draws') }}

),

roster as (

    select
        dept_code,
        inspector_code,
        inspector_name
    from {{ ref('inspectors') }}
    where enabled

),

teams as (

    select inspectors_per_inspection from {{ ref('inspection_teams') }}

),

ranked as (

    select
        draws.plan_quarter,
        draws.dept_code,
        draws.subject_key,
        roster.inspector_code,
        roster.inspector_name,
        row_number() over (
            partition by draws.plan_quarter, draws.dept_code, draws.subject_key
            order by
                md5(draws.draw_seed || '|' || draws.subject_key || '|' || roster.inspector_code),
                roster.inspector_code
        ) as team_rank
    from draws
    inner join roster on draws.dept_code = roster.dept_code

),

final as (

    select
        ranked.plan_quarter,
        ranked.dept_code,
        ranked.subject_key,
        string_agg(ranked.inspector_code, ';' order by ranked.team_rank) as inspector_codes,
        string_agg(ranked.inspector_name, '、' order by ranked.team_rank) as inspector_names,
        count(*) as team_size
    from ranked
    cross join teams
    where ranked.team_rank <= teams.inspectors_per_inspection
    group by ranked.plan_quarter, ranked.dept_code, ranked.subject_key

)

select * from final

{#- 部门考核 The quarterly department scorecard (政务诚信建设专项监测评价): per quarter of the
    monitoring window and department, the rate of each indicator (rpt_department_scorecard_items),
    the score of 100 over the weights of the measured indicators, its band
    (department_scorecard_grades) and the department's rank in the quarter. A department with no
    measured indicator has no score. -#}
with

items as (

    select * from {{ ref('rpt_department_scorecard_items') }}

),

grades as (

    select * from {{ ref('department_scorecard_grades') }}

),

scored as (

    select
        quarter_label,
        dept_code,
        dept_name,
        as_of_date,
        max(rate) filter (where indicator_code = 'collection_timeliness') as collection_timeliness,
        max(rate) filter (
            where indicator_code = 'collection_completeness'
        ) as collection_completeness,
        max(rate) filter (where indicator_code = 'accepted_share') as accepted_share,
        max(rate) filter (where indicator_code = 'interviews_on_time') as interviews_on_time,
        max(rate) filter (where indicator_code = 'warnings_closed') as warnings_closed,
        max(rate) filter (
            where indicator_code = 'warnings_closed_in_time'
        ) as warnings_closed_in_time,
        max(rate) filter (where indicator_code = 'progress_on_time') as progress_on_time,
        max(denominator) filter (where indicator_code = 'interviews_on_time') as interviews_due,
        max(numerator) filter (
            where indicator_code = 'interviews_on_time'
        ) as interviews_held_on_time,
        max(denominator) filter (where indicator_code = 'warnings_closed') as warnings_raised,
        max(numerator) filter (where indicator_code = 'warnings_closed') as warnings_closed_count,
        count(rate) filter (where weight > 0) as indicators_measured,
        round(
            100 * sum(points) filter (where rate is not null)
            / nullif(sum(weight) filter (where rate is not null), 0),
            1
        ) as score
    from items
    group by quarter_label, dept_code, dept_name, as_of_date

),

banded as (

    select
        scored.*,
        grades.grade_code,
        grades.grade_zh
    from scored
    left join lateral (
        select
            grades.grade_code,
            grades.grade_zh
        from grades
        where scored.score >= grades.min_score
        order by grades.min_score desc
        limit 1
    ) as grades on true

),

final as (

    select
        quarter_label::text as quarter_label,
        dept_code::text as dept_code,
        dept_name::text as dept_name,
        collection_timeliness::double precision as collection_timeliness,
        collection_completeness::double precision as collection_completeness,
        accepted_share::double precision as accepted_share,
        interviews_on_time::double precision as interviews_on_time,
        warnings_closed::double precision as warnings_closed,
        warnings_closed_in_time::double precision as warnings_closed_in_time,
        progress_on_time::double precision as progress_on_time,
        interviews_due::bigint as interviews_due,
        interviews_held_on_time::bigint as interviews_held_on_time,
        warnings_raised::bigint as warnings_raised,
        warnings_closed_count::bigint as warnings_closed_count,
        indicators_measured::integer as indicators_measured,
        score::numeric(5, 1) as score,
        grade_code::text as grade_code,
        grade_zh::text as grade_zh,
        (
            case
                when score is not null
                    then rank() over (
                        partition by quarter_label, score is null order by score desc
                    )
            end
        )::integer as score_rank,
        as_of_date::date as as_of_date
    from banded

)

select * from final

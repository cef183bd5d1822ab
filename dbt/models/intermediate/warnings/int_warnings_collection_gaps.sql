{#- Collection gaps (应归尽归), per department, from the ingestion audit:
    - collection_gap_silent: the department sent no row for `threshold_days` consecutive
      nights (counted from the day after its last delivery, or from the day before the first
      night of the warehouse); raised on the last of those nights, closed by its next delivery;
    - collection_gap_rejected: over the `threshold_days` nights ending on a night, the share
      of its rows quarantined reached `threshold_ratio` × the share of the window before, with
      at least `threshold_count` rows received; raised on the first such night, closed on the
      first night it no longer holds. -#}

{{ config(materialized='table') }}


with

rules as (

    select * from {{ ref('int_warning_rules_enabled') }}

),

departments as (

    select
        dept_code,
        name_zh
    from {{ ref('departments') }}

),

batches as (

    select * from {{ source('audit', 'batches') }}

),

checks as (

    select * from {{ source('audit_collection', 'collection_checks') }}

),

rejected as (

    select
        batch_id,
        count(*) as rows_rejected
    from {{ source('quarantine', 'rejected_rows') }}
    group by batch_id

),

-- The warehouse's first night and the as-of date, as every rule carries them.
nights as (

    select distinct
        first_night - 1 as first_night_before,
        as_of_date
    from rules

),

deliveries as (

    select
        dept_code,
        logical_date
    from batches
    where rows_read > 0
    union
    select
        dept_code,
        logical_date
    from checks
    where rows_received > 0

),

delivery_runs as (

    select
        departments.dept_code,
        departments.name_zh,
        coalesce(deliveries.logical_date, nights.first_night_before) as last_delivery,
        lead(deliveries.logical_date) over (
            partition by departments.dept_code order by deliveries.logical_date
        ) as next_delivery
    from departments
    cross join nights
    left join deliveries
        on
            departments.dept_code = deliveries.dept_code
            and nights.as_of_date >= deliveries.logical_date

),

silent as (

    select
        rules.rule_code,
        delivery_runs.dept_code || '|' || delivery_runs.last_delivery::text as condition_key,
        null::text as subject_key,
        delivery_runs.dept_code,
        delivery_runs.last_delivery + rules.threshold_days as raised_date,
        delivery_runs.next_delivery as closed_date,
        delivery_runs.name_zh || '自' || (delivery_runs.last_delivery + 1)::text || '起连续'
        || rules.threshold_days::text || '日未报送任何数据（上次报送'
        || delivery_runs.last_delivery::text || '）。' as facts
    from delivery_runs
    inner join rules on rules.rule_code = 'collection_gap_silent'
    cross join nights
    where
        coalesce(delivery_runs.next_delivery, nights.as_of_date + 1)
        > delivery_runs.last_delivery + rules.threshold_days

),

daily_volume as (

    select
        batches.dept_code,
        batches.logical_date,
        sum(batches.rows_read) as rows_read,
        coalesce(sum(rejected.rows_rejected), 0) as rows_rejected
    from batches
    left join rejected on batches.batch_id = rejected.batch_id
    group by batches.dept_code, batches.logical_date

),

windows as (

    select
        rules.rule_code,
        rules.threshold_ratio,
        rules.threshold_count,
        rules.min_base,
        rules.threshold_days,
        departments.dept_code,
        departments.name_zh,
        night.night,
        sum(daily_volume.rows_read) filter (
            where daily_volume.logical_date > night.night - rules.threshold_days
        ) as rows_now,
        sum(daily_volume.rows_rejected) filter (
            where daily_volume.logical_date > night.night - rules.threshold_days
        ) as rejected_now,
        sum(daily_volume.rows_read) filter (
            where daily_volume.logical_date <= night.night - rules.threshold_days
        ) as rows_before,
        sum(daily_volume.rows_rejected) filter (
            where daily_volume.logical_date <= night.night - rules.threshold_days
        ) as rejected_before
    from rules
    cross join departments
    cross join nights
    cross join
        lateral (
            select spine.day::date as night
            from generate_series(
                nights.first_night_before + 1, nights.as_of_date, interval '1 day'
            ) as spine (day)
        ) as night
    left join daily_volume
        on
            departments.dept_code = daily_volume.dept_code
            and daily_volume.logical_date > night.night - 2 * rules.threshold_days
            and night.night >= daily_volume.logical_date
    where rules.rule_code = 'collection_gap_rejected'
    group by
        rules.rule_code,
        rules.threshold_ratio,
        rules.threshold_count,
        rules.min_base,
        rules.threshold_days,
        departments.dept_code,
        departments.name_zh,
        night.night

),

judged as (

    select
        *,
        rejected_now::numeric / nullif(rows_now, 0) as share_now,
        rejected_before::numeric / nullif(rows_before, 0) as share_before,
        coalesce(
            rows_now >= threshold_count
            and rows_before >= min_base
            and rejected_now::numeric / rows_now
            >= threshold_ratio * rejected_before::numeric / rows_before
            and rejected_now > 0,
            false
        ) as jumped
    from windows

),

runs as (

    select
        *,
        lag(jumped) over (partition by dept_code order by night) as jumped_before
    from judged

),

rejected_jumps as (

    select
        runs.rule_code,
        runs.dept_code || '|' || runs.night::text as condition_key,
        null::text as subject_key,
        runs.dept_code,
        runs.night as raised_date,
        (
            select min(later.night)
            from judged as later
            where later.dept_code = runs.dept_code and later.night > runs.night and not later.jumped
        ) as closed_date,
        runs.name_zh || '截至' || runs.night::text || '的' || runs.threshold_days::text
        || '日内报送' || runs.rows_now::text || '行，拒收率'
        || round(runs.share_now * 100, 1)::text || '%，此前同期为'
        || round(runs.share_before * 100, 1)::text || '%。' as facts
    from runs
    where runs.jumped and not coalesce(runs.jumped_before, false)

),

final as (

    select * from silent
    union all
    select * from rejected_jumps

)

select * from final

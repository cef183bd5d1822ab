{#- Itemised score contributions (评分明细) as stored: one row per subject, evaluation date and
    indicator, the points behind every score; fct_score_contributions is what analysts read.
    score = base score + Σ indicator points, bounded to [min_score, max_score]:
    - each fact in force on the date adds `points` × its component's weight in the subject's
      model × a time decay (linear to 0 over `decay_months` from the fact's date, months of
      30.4375 days) × `repaired_factor` once the record was repaired (信用修复);
    - a model-specific indicator row overrides the `*` row of the same code;
    - the row `bound` carries what the bounds cut off, so the items always add up to the score.
    The as-of date's evaluation is stored under 'infinity' (int_evaluation_dates.stored_date).

    Incremental: a night computes the pairs of int_evaluation_targets (the subjects whose facts
    or rules changed, on every date; every subject on the dates not stored yet; on the as-of date
    the subjects whose score can have moved since the previous one) and replaces their rows; the
    pre-hook drops the dates that left the window and the subjects that are no more
    (macros/evaluation/evaluation_state.sql). A full refresh computes every pair. -#}

-- depends_on: {{ ref('int_evaluation_targets') }}
-- depends_on: {{ ref('int_evaluation_fingerprints') }}
-- depends_on: {{ ref('int_evaluation_input_changes') }}
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ prune_evaluations() }}",
        post_hook="{{ record_stored_dates() }}",
        indexes=[{'columns': ['evaluation_date']}],
    )
}}


with

-- The (subject, date) pairs to evaluate: every pair on a full build, tonight's delta otherwise;
-- evaluation_date is the date stored, reference_date the day the facts are read on.
targets as (

    {%- if is_incremental() %}
        select * from {{ ref('int_evaluation_targets') }}
    {%- else %}
        select
            subjects.subject_key,
            subjects.model_code,
            dates.stored_date as evaluation_date,
            dates.evaluation_date as reference_date
        from {{ ref('int_subject_domains') }} as subjects
        cross join {{ ref('int_evaluation_dates') }} as dates
    {%- endif %}

),

models as (

    select * from {{ ref('evaluation_models') }}

),

indicator_rows as (

    select
        models.model_code,
        indicators.indicator_code,
        indicators.indicator_zh,
        indicators.component_code,
        indicators.fact_kind,
        indicators.fact_value,
        indicators.points,
        indicators.decay_months,
        indicators.repaired_factor,
        case indicators.component_code
            when 'public_credit' then models.public_credit_weight
            when 'industry_evaluation' then models.industry_evaluation_weight
            when 'market_evaluation' then models.market_evaluation_weight
        end as component_weight,
        row_number() over (
            partition by models.model_code, indicators.indicator_code
            order by (indicators.model_code = '*')
        ) as override_rank
    from {{ ref('evaluation_indicators') }} as indicators
    inner join models
        on indicators.model_code in (models.model_code, '*')

),

indicators as (

    select * from indicator_rows
    where override_rank = 1

),

facts as (

    select * from {{ ref('int_evaluation_facts') }}

),

fact_points as (

    select
        facts.subject_key,
        dates.evaluation_date,
        indicators.indicator_code,
        indicators.indicator_zh,
        indicators.component_code,
        indicators.points
        * indicators.component_weight
        * case
            when indicators.decay_months is null then 1
            else greatest(
                0,
                1 - (dates.reference_date - facts.fact_date) / 30.4375 / indicators.decay_months
            )
        end
        * case
            when facts.repaired_date <= dates.reference_date
                then coalesce(indicators.repaired_factor, 1)
            else 1
        end as points
    from facts
    inner join targets as dates
        on
            facts.subject_key = dates.subject_key
            and facts.fact_date <= dates.reference_date
            and (facts.fact_end is null or facts.fact_end > dates.reference_date)
    inner join indicators
        on
            dates.model_code = indicators.model_code
            and facts.fact_kind = indicators.fact_kind
            and indicators.fact_value in (facts.fact_value, '*')

),

indicator_totals as (

    select
        subject_key,
        evaluation_date,
        indicator_code,
        indicator_zh,
        component_code,
        count(*) as fact_count,
        round(sum(points)::numeric, 2) as points
    from fact_points
    group by subject_key, evaluation_date, indicator_code, indicator_zh, component_code
    having round(sum(points)::numeric, 2) <> 0

),

base as (

    select
        targets.subject_key,
        targets.evaluation_date,
        'base' as indicator_code,
        '基础分' as indicator_zh,
        'base' as component_code,
        0 as fact_count,
        models.base_score::numeric as points,
        models.min_score,
        models.max_score
    from targets
    inner join models on targets.model_code = models.model_code

),

raw_scores as (

    select
        base.subject_key,
        base.evaluation_date,
        base.min_score,
        base.max_score,
        base.points + coalesce(sum(indicator_totals.points), 0) as raw_score
    from base
    left join indicator_totals
        on
            base.subject_key = indicator_totals.subject_key
            and base.evaluation_date = indicator_totals.evaluation_date
    group by
        base.subject_key, base.evaluation_date, base.min_score, base.max_score, base.points

),

bounds as (

    select
        subject_key,
        evaluation_date,
        'bound' as indicator_code,
        '分值上下限调整' as indicator_zh,
        'bound' as component_code,
        0 as fact_count,
        least(greatest(raw_score, min_score), max_score) - raw_score as points
    from raw_scores
    where raw_score not between min_score and max_score

),

itemised as (

    select
        subject_key,
        evaluation_date,
        indicator_code,
        indicator_zh,
        component_code,
        fact_count,
        points
    from base
    union all
    select * from indicator_totals
    union all
    select * from bounds

),

final as (

    select
        subject_key::text as subject_key,
        evaluation_date::date as evaluation_date,
        indicator_code::text as indicator_code,
        indicator_zh::text as indicator_name,
        component_code::text as component_code,
        fact_count::integer as fact_count,
        points::numeric(8, 2) as points
    from itemised

)

select * from final

{#- The stored evaluation rows of `relation` (int_subject_grades, int_score_contributions) with
    the day each holds for (dated_on) and is_current: a month end's rows are dated by their
    evaluation_date, the as-of date's (stored under 'infinity') by the as-of date of their last
    evaluation (intermediate.evaluated_dates, written with them). The relation is named in each
    branch, not read through an import CTE: a CTE read twice is materialised whole, and a look-up
    by subject through the views would scan every row. -#}
{% macro dated_evaluations(relation) %}
    select
        kept.*,
        kept.evaluation_date as dated_on,
        false as is_current
    from {{ relation }} as kept
    where kept.evaluation_date <> 'infinity'
    union all
    select
        kept.*,
        as_of.evaluation_date as dated_on,
        true as is_current
    from {{ relation }} as kept
    inner join {{ source('evaluation_state', 'evaluated_dates') }} as as_of
        on as_of.is_current
    where kept.evaluation_date = 'infinity'
{% endmacro %}

{#- The state of the issued inspection plans (models/marts/supervision/fct_inspection_plans): a
    quarter's plan is drawn once, the first night the quarter is in the monitoring window, and
    kept; it is drawn again only when the draw's rules changed (int_inspection_quarters). -#}

{#- on-run-start: the quarters drawn and the rules they were drawn by, empty until the plans
    are first built. -#}
{% macro create_inspection_state() %}
    create schema if not exists intermediate;
    create table if not exists intermediate.drawn_quarters (
        plan_quarter text primary key,
        draw_rules_md5 text not null
    );
{% endmacro %}


{#- Pre-hook of fct_inspection_plans: drop the quarters that left the window or are drawn
    again tonight. -#}
{% macro prune_inspection_plans() %}
    {%- if is_incremental() %}
    delete from {{ this }}
    where plan_quarter not in (
        select plan_quarter from {{ ref('int_inspection_quarters') }}
        where is_drawn
    )
    {%- endif %}
{% endmacro %}


{#- Post-hook of fct_inspection_plans (in its transaction): the quarters now drawn. -#}
{% macro store_drawn_quarters() %}
    delete from intermediate.drawn_quarters;
    insert into intermediate.drawn_quarters (plan_quarter, draw_rules_md5)
    select plan_quarter, draw_rules_md5 from {{ ref('int_inspection_quarters') }}
{% endmacro %}


{#- The quarters fct_inspection_plans draws tonight, as a SQL text array of their labels: those
    of the window not drawn yet by tonight's rules. -#}
{% macro quarters_to_draw() %}
    {%- set literals = [] %}
    {%- if execute %}
        {%- set quarters = run_query(
            "select plan_quarter from " ~ ref('int_inspection_quarters')
            ~ " where not is_drawn order by plan_quarter"
        ) %}
        {%- for label in quarters.columns[0].values() %}
            {%- do literals.append("'" ~ label ~ "'") %}
        {%- endfor %}
    {%- endif %}
    {{- return("array[" ~ literals | join(', ') ~ "]::text[]") }}
{% endmacro %}

{#- The as-of date (截至日期) of every lifecycle model: `--vars '{as_of_date: 2026-06-30}'`
    reconstructs the state of that day; else the environment's CREDIT_AS_OF_DATE (how the
    transform DAG passes it: a changed var makes dbt re-parse the whole project, a changed
    environment variable only the files that read it); else today in the county's time zone. -#}
{%- set county_timezone = var('county_timezone', 'Asia/Shanghai') -%}
{%- set as_of_date = var('as_of_date', env_var('CREDIT_AS_OF_DATE', '')) -%}
{%- if as_of_date -%}
    {%- set as_of_expression = "'" ~ as_of_date ~ "'::date" -%}
{%- else -%}
    {%- set as_of_expression = "(now() at time zone '" ~ county_timezone ~ "')::date" -%}
{%- endif -%}

with

parameters as (

    select {{ as_of_expression }} as as_of_date

),

final as (

    -- A row is known on the as-of date once the night of that date has landed it
    -- (macros/as_of/known.sql).
    select as_of_date
    from parameters

)

select * from final

{#- The as-of date (截至日期) as an SQL expression: `--vars '{as_of_date: 2026-06-30}'`, else
    the environment's CREDIT_AS_OF_DATE (how the transform DAG passes it: a changed var makes
    dbt re-parse the whole project, a changed environment variable only the files that read
    it), else today in the county's time zone (`county_timezone`). -#}
{% macro as_of_date_expression() -%}
    {%- set county_timezone = var('county_timezone', 'Asia/Shanghai') -%}
    {%- set as_of_date = var('as_of_date', env_var('CREDIT_AS_OF_DATE', '')) -%}
    {%- if as_of_date -%}
        '{{ as_of_date }}'::date
    {%- else -%}
        (now() at time zone '{{ county_timezone }}')::date
    {%- endif -%}
{%- endmacro %}

{#- Post-hook of every model: ANALYZE what was just built as a table, so the models built from it
    are planned on its real size. The server's autovacuum may be off or late, and an unanalysed
    table is planned as a few rows (nested loops over thousands of rows). Views have no
    statistics of their own. -#}
{% macro analyze_table() %}
    {%- if config.get('materialized') in ('table', 'incremental') -%}
        analyze {{ this }}
    {%- endif -%}
{% endmacro %}

{#- Post-hook of every model: ANALYZE what was just built as a table, so the models built from it
    are planned on its real size. The server's autovacuum may be off or late, and an unanalysed
    table is planned as a few rows (nested loops over thousands of rows). Views have no
    statistics of their own. An incremental model or a snapshot is analysed when its rows changed
    since its statistics (this transaction's changes included) are a tenth of it or more:
    re-sampling a large table for a night's few rows cost seconds per model; one never analysed
    (its row count set by an index built on it, its columns without statistics) is analysed once. -#}
{% macro analyze_table() %}
    {%- if config.get('materialized') == 'table' -%}
        analyze {{ this }}
    {%- elif config.get('materialized') in ('incremental', 'snapshot') -%}
        do $$
        begin
            if (
                select
                    c.reltuples < 0
                    or not exists (
                        select from pg_stats
                        where schemaname = '{{ this.schema }}' and tablename = '{{ this.identifier }}'
                    )
                    or coalesce(s.n_mod_since_analyze, 0)
                    + pg_stat_get_xact_tuples_inserted(c.oid)
                    + pg_stat_get_xact_tuples_updated(c.oid)
                    + pg_stat_get_xact_tuples_deleted(c.oid)
                    >= 0.1 * c.reltuples
                from pg_class as c
                left join pg_stat_user_tables as s on c.oid = s.relid
                where c.oid = '{{ this }}'::regclass
            ) then
                analyze {{ this }};
            end if;
        end
        $$
    {%- endif -%}
{% endmacro %}

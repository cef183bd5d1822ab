{#- Post-hook: a partial index on this model's table (dbt's `indexes` config has no WHERE), made
    when the table lacks it: the night the table is created or fully refreshed, and a warehouse
    built before the index existed. Its name carries the table's OID: a full refresh's new table
    gets its own while the backup table still holds the old one's, until the run commits. -#}
{% macro partial_index(name, columns, predicate) %}
    do $$
    begin
        execute format(
            'create index if not exists %I on {{ this }} ({{ columns | join(", ") }}) where {{ predicate }}',
            '{{ this.identifier }}_{{ name }}_' || '{{ this }}'::regclass::oid
        );
    end
    $$
{% endmacro %}

{#- Models land in the schema their folder names (staging, marts, ...), not in
    "<target schema>_<custom schema>", so analysts find `marts.dossiers`, not `staging_marts.dossiers`. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name | trim if custom_schema_name else target.schema }}
{%- endmacro %}

{#- The column names of a relation dbt built (an incremental model's table), read at run time. -#}
{% macro columns_of(relation) %}
    {{ return(adapter.get_columns_in_relation(relation) | map(attribute='name') | list) }}
{% endmacro %}

{#- Generic test: the grain of a staging model, one row per raw row (raw_row_id) and exactly one
    latest version (is_latest) per record (record_key). One query for both. -#}
{% test versions_grain(model) %}

select
    'raw_row_id' as key_column,
    raw_row_id::text as key_value,
    count(*) as occurrences
from {{ model }}
group by raw_row_id
having count(*) > 1

union all

select
    'record_key' as key_column,
    record_key as key_value,
    count(*) filter (where is_latest) as occurrences
from {{ model }}
group by record_key
having count(*) filter (where is_latest) <> 1

{% endtest %}

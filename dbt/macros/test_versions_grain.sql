{#- Generic test: the grain of a staging model, one row per raw row (raw_row_id) and exactly one
    latest version (is_latest) per record (record_key), over the records the model's last build
    wrote (staged_at, by its index): every record after a full refresh, the night's delta after
    an incremental build. A build ranks again every staged version of each record it touches and
    leaves the others as the build that wrote them left them, tested then; raw_row_id is unique
    by the table's index too. One query for both. -#}
{% test versions_grain(model) %}

with written as materialized (

    select raw_row_id, record_key
    from {{ model }}
    where staged_at = (select max(staged_at) from {{ model }})

)

select
    'raw_row_id' as key_column,
    raw_row_id::text as key_value,
    count(*) as occurrences
from {{ model }}
where raw_row_id in (select written.raw_row_id from written)
group by raw_row_id
having count(*) > 1

union all

select
    'record_key' as key_column,
    record_key as key_value,
    count(*) filter (where is_latest) as occurrences
from {{ model }}
where record_key in (select written.record_key from written)
group by record_key
having count(*) filter (where is_latest) <> 1

{% endtest %}

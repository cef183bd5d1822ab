{#
    The accepted rows (采纳行) of raw.<kind>: their batch passed validation
    (audit.batches.status = 'validated') and the row itself was not quarantined.
    Each row keeps every landed column and gains its batch's logical date.
    The generated staging models (python -m credit.dbt_codegen) start from it.
#}
{% macro accepted_raw_rows(kind) %}
    select
        raw_rows.*,
        batches.logical_date
    from {{ source('raw', kind) }} as raw_rows
    inner join {{ source('audit', 'batches') }} as batches
        on raw_rows.batch_id = batches.batch_id
    where
        batches.status = 'validated'
        and not exists (
            select from {{ source('quarantine', 'rejected_rows') }} as rejected
            where
                rejected.record_kind = '{{ kind }}'
                and rejected.raw_row_id = raw_rows.raw_row_id
        )
{% endmacro %}

{#- 信用记录 Every accepted version of every record kind landed by the as-of night, one row each.

    Incremental: a night adds the rows of the validated batches not loaded yet, and re-writes
    the older versions of the records those rows touch, so is_latest_version stays right. Rows
    still keyed by a legacy identifier (no registration linked it yet) are re-written too, so a
    link that arrives later moves them to the subject's USCC. Indexed by subject (a dossier's
    records), by the incremental key and by batch (the night's delta). -#}
{{
    config(
        materialized='incremental',
        unique_key=['record_kind', 'raw_row_id'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        indexes=[
            {'columns': ['subject_key']},
            {'columns': ['record_kind', 'raw_row_id'], 'unique': True},
            {'columns': ['batch_id']},
        ],
        post_hook=[
            "{{ partial_index('legacy', ['record_kind', 'record_key'], "
            ~ "'legacy_identifier is not null and subject_key = legacy_identifier') }}",
        ],
    )
}}
with

as_of as (

    select * from {{ ref('int_lifecycle_as_of') }}

),

-- Validated batches not loaded yet (a batch validated late included), landed by the as-of
-- night; one with no accepted row is never loaded, so it is left out (every night read them
-- again, history's worth).
new_batches as (

    select batches.batch_id
    from {{ source('audit', 'batches') }} as batches
    cross join as_of
    where
        batches.status = 'validated'
        and batches.rows_accepted > 0
        and {{ known_on_as_of('batches') }}
        {%- if is_incremental() %}
            and not exists (
                select from {{ this }} as loaded
                where loaded.batch_id = batches.batch_id
            )
        {%- endif %}

),

-- Records with a version in those batches, and those still keyed by a legacy identifier. The
-- batches as an array: the planner reads each staging table by its batch index (estimated as
-- the anti-join above, thousands of batches, each table was scanned whole).
touched_records as (

    {% for kind in record_kinds().values() %}
        select
            record_kind,
            record_key
        from {{ ref(kind.model) }}
        where batch_id = any(array(select new_batches.batch_id from new_batches))
        {% if not loop.last %}union{% endif %}
    {% endfor %}
    {%- if is_incremental() %}
        union
        select
            record_kind,
            record_key
        from {{ this }}
        -- By the partial index of the config: a few hundred rows of millions.
        where legacy_identifier is not null and subject_key = legacy_identifier
    {%- endif %}

),

-- Every version of a touched record (of every record on a full build), so older versions get
-- is_latest_version re-written. Each kind's touched keys as an array: the planner then reads
-- the staging table by its record_key index (joined, it was estimated as the batches' worth
-- of keys and every staging table was scanned whole).
delta as (

    {% for kind_name, kind in record_kinds().items() %}
        select
            staged.record_kind,
            staged.record_key,
            staged.subject_key,
            staged.legacy_identifier,
            staged.dept_code,
            staged.record_date,
            staged.change_type_code,
            staged.updated_at,
            staged.batch_id,
            staged.raw_row_id,
            staged.source_ref,
            staged.logical_date
        from {{ ref(kind.model) }} as staged
        cross join as_of
        where
            {{ known_on_as_of('staged') }}
            {%- if is_incremental() %}
                and staged.record_key = any(array(
                    select touched_records.record_key
                    from touched_records
                    where touched_records.record_kind = '{{ kind_name }}'
                ))
            {%- endif %}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

final as (

    select
        record_kind || ':' || raw_row_id as credit_record_id,
        record_kind,
        record_key,
        subject_key,
        legacy_identifier,
        dept_code,
        record_date as event_date,
        change_type_code,
        updated_at,
        batch_id,
        raw_row_id,
        source_ref,
        logical_date,
        -- Among the versions landed by the as-of night (the staged is_latest ranks them all).
        row_number() over (
            partition by record_kind, record_key order by updated_at desc, raw_row_id desc
        ) = 1 as is_latest_version
    from delta

)

select * from final

{#- 信用记录 Every accepted version of every record kind, one row each.

    Incremental: a night adds the rows of the batches after the last one loaded, and re-writes
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
    )
}}
with

versions as (

    {% for kind in record_kinds().values() %}
        select
            record_kind,
            record_key,
            subject_key,
            legacy_identifier,
            dept_code,
            record_date,
            change_type_code,
            updated_at,
            batch_id,
            raw_row_id,
            source_ref,
            logical_date,
            is_latest
        from {{ ref(kind.model) }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

-- Records with a version in the batches not yet loaded: all of them on a full build.
touched_records as (

    select distinct
        record_kind,
        record_key
    from versions
    {% if is_incremental() %}
        where batch_id > (select coalesce(max(loaded.batch_id), 0) from {{ this }} as loaded)

        union

        select
            record_kind,
            record_key
        from {{ this }}
        where legacy_identifier is not null and subject_key = legacy_identifier
    {% endif %}

),

-- Every version of a touched record, so older versions get is_latest_version re-written.
delta as (

    select versions.*
    from versions
    inner join touched_records
        on
            versions.record_kind = touched_records.record_kind
            and versions.record_key = touched_records.record_key

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
        is_latest as is_latest_version
    from delta

)

select * from final

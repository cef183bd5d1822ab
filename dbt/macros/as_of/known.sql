{#- What the warehouse knew on the as-of date (int_lifecycle_as_of, aliased `as_of`): a row
    counts from the night it was landed, its batch's logical date, not from the stamp its own
    system gave it. So a version a department sent late, or a correction of last quarter that
    arrived this quarter, is unknown to a rebuild of any day before its night, and a past day's
    marts are the ones built that night (credit.as_of; docs/warehouse.md, "As of a past day"). -#}
{% macro known_on_as_of(alias, night='logical_date') -%}
    {{ alias }}.{{ night }} <= as_of.as_of_date
{%- endmacro %}


{#- The latest version of each record of a staged kind known on the as-of date: the rows landed
    by then, of each record the latest among them (updated_at, then raw_row_id, as is_latest
    ranks every version). A record whose latest version landed later is ranked again among its
    known versions, found by the staging table's logical_date index: none on a night's own
    build, which reads the is_latest rows as before. No DISTINCT ON or window, so that a
    reader's filter (a subject, a batch) still reaches the staging table's indexes. -#}
{% macro known_latest(relation) -%}
    select versions.*
    from {{ relation }} as versions
    cross join {{ ref('int_lifecycle_as_of') }} as as_of
    where versions.is_latest and {{ known_on_as_of('versions') }}

    union all

    select versions.*
    from {{ relation }} as versions
    cross join {{ ref('int_lifecycle_as_of') }} as as_of
    where
        {{ known_on_as_of('versions') }}
        and versions.record_key in (
            select later.record_key
            from {{ relation }} as later
            where later.is_latest and not {{ known_on_as_of('later') }}
        )
        and not exists (
            select from {{ relation }} as newer
            where
                newer.record_key = versions.record_key
                and {{ known_on_as_of('newer') }}
                and (newer.updated_at, newer.raw_row_id)
                > (versions.updated_at, versions.raw_row_id)
        )
{%- endmacro %}

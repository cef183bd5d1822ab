{#-
    The staging shape (暂存层) of one record kind of the catalogue (record_kinds(), generated from
    include/credit/config/record_kinds.yaml): every accepted row of raw.<kind> (accepted_raw_rows),
    its columns typed (text trimmed, empty as NULL; dates, timestamps and numbers cast; identifiers
    in normal form; each coded enum beside its English code), resident IDs (居民身份证号码) only as
    the keyed hash and the masked form, with the row's lineage and:

    * record_key: the department and the business key, joined by '|';
    * subject_key: the USCC, 'P:' and the ID hash for a natural person, or a legacy identifier
      no registration links yet (linked_subject_identifier);
    * record_date: the kind's main date;
    * is_latest: whether the row is the latest version of its record (updated_at, then
      raw_row_id);
    * staged_at: when the build that last wrote the row ran.

    Every model of models/staging/raw is this macro applied to one kind, incremental (the
    folder's config in dbt_project.yml): a night stages the rows of the batches validated since
    the last build, the rows staged under a legacy identifier a registration now links, and
    ranks them again with the staged versions of the records they touch. A full refresh stages
    every accepted row.
-#}
{% macro stage_record_kind(kind_name) %}
{%- set kind = record_kinds()[kind_name] %}
{%- set names = kind.columns | map(attribute='name') | list %}
{%- set legacy = kind.columns | selectattr('legacy') | map(attribute='name') | list %}
{%- if legacy %}
{#- The rows still keyed by a legacy identifier, a few hundred in a kind's millions. #}
{{ config(post_hook=[
    "{{ partial_index('legacy', ['legacy_identifier'], '"
    ~ legacy[0] ~ " is null and legacy_identifier is not null') }}"
]) }}
{%- endif %}
with

accepted as (

    {{ accepted_raw_rows(kind_name) }}

),
{%- if is_incremental() and legacy %}

-- The staged rows a registration now links: the few legacy rows by their partial index (the
-- config above), each looked up in the links by its key; found first, so that the raw table
-- is read only when there are some (most nights none).
relinked as materialized (

    select
        staged.batch_id,
        staged.raw_row_id,
        staged.logical_date
    from {{ this }} as staged
    where
        staged.{{ legacy[0] }} is null
        and staged.legacy_identifier is not null
        and exists (
            select from {{ ref('stg_legacy_identifier_links') }} as links
            where links.legacy_identifier = staged.legacy_identifier
        )

),
{%- endif %}

source as (

    select accepted.*
    from accepted
    {%- if is_incremental() %}
    -- The validated batches not staged yet (a batch validated late included), as an array: the
    -- planner then reads their rows by the raw table's batch index instead of scanning it. A
    -- batch with no accepted row is never staged: without `rows_accepted > 0` every night read
    -- again the rows of all such batches, scattered over the table's history.
    where accepted.batch_id = any(array(
        select batches.batch_id
        from {{ source('audit', 'batches') }} as batches
        where
            batches.record_kind = '{{ kind_name }}'
            and batches.rows_accepted > 0
            and not exists (
                select from {{ this }} as staged
                where staged.batch_id = batches.batch_id
            )
    ))
    {%- if legacy %}

    union all

    -- Rows staged under a legacy identifier that a registration now links to a USCC (see
    -- relinked above), read again from raw.
    select
        raw_rows.*,
        relinked.logical_date
    from relinked
    inner join {{ source('raw', kind_name) }} as raw_rows
        on
            relinked.batch_id = raw_rows.batch_id
            and relinked.raw_row_id = raw_rows.raw_row_id
    {%- endif %}
    {%- endif %}

),

renamed as (

    select
        raw_row_id,
        batch_id,
        dept_code,
        source_ref,
        received_at,
        logical_date,
        {%- for column in kind.columns %}
        {%- set name = column.name %}
        {%- set comma = '' if loop.last else ',' %}
        {%- if column.identifier == 'resident_id' %}
        audit.hash_identifier({{ name }}) as {{ name }}_hash,
        audit.mask_identifier({{ name }}) as {{ name }}_masked{{ comma }}
        {%- elif column.identifier in ('uscc', 'registration_number') %}
        nullif(audit.normalise_identifier({{ name }}), '') as {{ name ~ '_as_sent' if column.legacy else name }}{{ comma }}
        {%- elif column.personal_if %}
        case
            when {% for other, values in column.personal_if.items() -%}
            {{ 'and ' if not loop.first }}btrim({{ other }}) in ('{{ values | join("', '") }}')
            {% endfor -%}
            then audit.mask_name({{ name }})
            else nullif(btrim({{ name }}), '')
        end as {{ name }}{{ comma }}
        {%- elif column.type == 'date' %}
        audit.iso_date(btrim({{ name }})) as {{ name }}{{ comma }}
        {%- elif column.type == 'timestamp' %}
        audit.iso_timestamp(btrim({{ name }})) as {{ name }}{{ comma }}
        {%- elif column.type == 'decimal' %}
        nullif(btrim({{ name }}), '')::numeric as {{ name }}{{ comma }}
        {%- elif column.type == 'int' %}
        nullif(btrim({{ name }}), '')::integer as {{ name }}{{ comma }}
        {%- elif column.codes %}
        nullif(btrim({{ name }}), '') as {{ name }},
        case btrim({{ name }})
            {%- for value, code in column.codes.items() %}
            when '{{ value }}' then '{{ code }}'
            {%- endfor %}
        end as {{ name }}_code{{ comma }}
        {%- else %}
        nullif(btrim({{ name }}), '') as {{ name }}{{ comma }}
        {%- endif %}
        {%- endfor %}
    from source

),
{%- if legacy %}

-- A legacy identifier (旧标识) sent for the USCC: the USCC a registration links.
linked as (

    {{ linked_subject_identifier('renamed', legacy[0]) }}

),
{%- endif %}

keyed as (

    select
        *,
        '{{ kind_name }}'::text as record_kind,
        concat_ws('|', dept_code, {{ kind.business_key | join(', ') }}) as record_key,
        {%- if 'subject_type' in names %}
        case
            when subject_type_code = 'natural_person'
                then {{ "'P:' || id_number_hash" if 'id_number' in names else 'null' }}
            else {{ 'coalesce(uscc, legacy_identifier)' if legacy else 'uscc' }}
        end as subject_key,
        {%- elif 'uscc' in names %}
        uscc as subject_key,
        {%- else %}
        null::text as subject_key,
        {%- endif %}
        {%- if not legacy %}
        null::text as legacy_identifier,
        {%- endif %}
        {{ kind.record_date }} as record_date
    from {{ 'linked' if legacy else 'renamed' }}

),

{%- set columns = [
    'raw_row_id', 'batch_id', 'dept_code', 'source_ref', 'received_at', 'logical_date',
    'record_kind', 'record_key', 'subject_key', 'legacy_identifier', 'record_date',
] + staged_column_names(kind) %}

versions as (

    select
        {%- for name in columns %}
        {{ name }}{{ ',' if not loop.last }}
        {%- endfor %}
    from keyed
    {%- if is_incremental() %}
    {%- set staged_names = columns_of(this) %}

    union all

    -- The staged versions of the records the new rows touch, so all are ranked again. A column
    -- the catalogue added since they were staged is null in them, as in their raw rows (the
    -- model adds it to the table: on_schema_change append_new_columns in dbt_project.yml).
    select
        {%- for name in columns %}
        {{ 'staged.' ~ name if name in staged_names else 'null' }} as {{ name }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ this }} as staged
    where
        staged.record_key in (select keyed.record_key from keyed)
        and not exists (
            select from keyed
            where keyed.raw_row_id = staged.raw_row_id
        )
    {%- endif %}

),

final as (

    select
        *,
        row_number() over (
            partition by record_key
            order by updated_at desc, raw_row_id desc
        ) = 1 as is_latest,
        -- The build that wrote the row, staging it or ranking it again (its transaction's start):
        -- what versions_grain tests.
        now() as staged_at
    from versions

)

select * from final
{% endmacro %}


{#- The staging columns one record kind's catalogue columns become, in order. -#}
{% macro staged_column_names(kind) %}
{%- set staged = [] %}
{%- for column in kind.columns %}
    {%- if column.identifier == 'resident_id' %}
        {%- do staged.extend([column.name ~ '_hash', column.name ~ '_masked']) %}
    {%- else %}
        {%- do staged.append(column.name) %}
        {%- if column.codes %}
            {%- do staged.append(column.name ~ '_code') %}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{{ return(staged) }}
{% endmacro %}

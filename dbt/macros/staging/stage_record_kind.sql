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
      raw_row_id).

    Every model of models/staging/raw is this macro applied to one kind.
-#}
{% macro stage_record_kind(kind_name) %}
{%- set kind = record_kinds()[kind_name] %}
{%- set names = kind.columns | map(attribute='name') | list %}
{%- set legacy = kind.columns | selectattr('legacy') | map(attribute='name') | list %}
with

source as (

    {{ accepted_raw_rows(kind_name) }}

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

final as (

    select
        raw_row_id,
        batch_id,
        dept_code,
        source_ref,
        received_at,
        logical_date,
        record_kind,
        record_key,
        subject_key,
        legacy_identifier,
        record_date,
        {%- for name in staged_column_names(kind) %}
        {{ name }},
        {%- endfor %}
        row_number() over (
            partition by record_key
            order by updated_at desc, raw_row_id desc
        ) = 1 as is_latest
    from keyed

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

{#
    A subject identifier sent in `<column>_as_sent` that may be a legacy identifier (旧标识):
    every column of `relation`, then `<column>` (the USCC sent, or the USCC a registration links
    the legacy identifier to) and `legacy_identifier` (what was sent when it was not a USCC).
    The generated staging models of kinds that name a subject (python -m credit.dbt_codegen)
    select from it.
#}
{% macro linked_subject_identifier(relation, column) %}
{%- set sent = relation ~ '.' ~ column ~ '_as_sent' -%}
    select
        {{ relation }}.*,
        case
            when length({{ sent }}) = 18 then {{ sent }}
            else links.uscc
        end as {{ column }},
        case
            when length({{ sent }}) <> 18 then {{ sent }}
        end as legacy_identifier
    from {{ relation }}
    left join {{ ref('stg_legacy_identifier_links') }} as links
        on {{ sent }} = links.legacy_identifier
{% endmacro %}

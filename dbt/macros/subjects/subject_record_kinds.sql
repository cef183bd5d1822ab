{#- The record kinds whose rows name a subject, by what they say of it: {'subject_type': kinds
    with a subject type (行政相对人类别) beside the identifiers, 'uscc_only': kinds with only a
    USCC (tax, customs)}; registrations, the register itself, are in neither. -#}
{% macro subject_record_kinds() %}
    {%- set kinds = {'subject_type': [], 'uscc_only': []} %}
    {%- for name, kind in record_kinds().items() if name != 'registration' %}
        {%- set columns = kind.columns | map(attribute='name') | list %}
        {%- if 'subject_type' in columns %}
            {%- do kinds.subject_type.append(name) %}
        {%- elif 'uscc' in columns %}
            {%- do kinds.uscc_only.append(name) %}
        {%- endif %}
    {%- endfor %}
    {{- return(kinds) }}
{% endmacro %}

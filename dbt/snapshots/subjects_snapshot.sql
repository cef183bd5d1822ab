{#- 主体历史 History of every subject's tracked attributes: a new row whenever its name, legal
    representative, industry, division or status changes (dbt_valid_from / dbt_valid_to). -#}
{% snapshot subjects_snapshot %}

{{
    config(
        target_schema='snapshots',
        unique_key='subject_key',
        strategy='check',
        check_cols=[
            'subject_name',
            'legal_rep_id_number_hash',
            'industry_code',
            'division_code',
            'status',
        ],
    )
}}

select
    subject_key,
    subject_kind,
    uscc,
    subject_name,
    legal_rep,
    legal_rep_id_number_masked,
    legal_rep_id_number_hash,
    industry_code,
    division_code,
    status,
    is_registered
from {{ ref('dim_subjects') }}

{% endsnapshot %}

{#- The batches dim_subjects has not taken in yet (see the model's description). The candidates
    are materialised first, so that only they are looked for in staging. -#}
{%- set subject_kinds = subject_record_kinds() %}
{%- set kinds = ['registration'] + subject_kinds.subject_type + subject_kinds.uscc_only %}

{{ config(materialized='table') }}


with

candidates as materialized (

    select
        batches.batch_id,
        batches.rows_accepted
    from {{ source('audit', 'batches') }} as batches
    where
        batches.status = 'validated'
        and batches.record_kind in (
            {%- for name in kinds %}
                '{{ name }}'{{ ',' if not loop.last }}
            {%- endfor %}
        )
        and not exists (
            select from {{ source('subject_state', 'subject_batches') }} as taken
            where taken.batch_id = batches.batch_id
        )

),

final as (

    select candidates.batch_id
    from candidates
    where
        candidates.rows_accepted = 0
        or exists (
            select from {{ ref('int_subjects_unioned') }} as mentions
            where mentions.batch_id = candidates.batch_id
        )

)

select * from final

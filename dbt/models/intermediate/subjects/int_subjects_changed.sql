{#- The subjects dim_subjects rebuilds tonight (see the model's description). -#}

{{ config(materialized='table', indexes=[{'columns': ['subject_key'], 'unique': True}]) }}


with

named as (

    select mentions.subject_key
    from {{ ref('int_subjects_unioned') }} as mentions
    -- An array: each staging table of the union is read by its batch index, not scanned.
    where mentions.batch_id = any(array(
        select batches.batch_id from {{ ref('int_subject_batches') }} as batches
    ))

),

relinked as (

    select links.legacy_identifier as subject_key
    from {{ ref('stg_legacy_identifier_links') }} as links
    where links.uscc in (select named.subject_key from named)

),

final as (

    select subject_key from named
    where subject_key is not null
    union
    select subject_key from relinked

)

select * from final

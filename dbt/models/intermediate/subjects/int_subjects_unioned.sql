{#- Every accepted record version that names a subject, from every kind, reduced to the
    subject's columns, landed by the as-of night: what dim_subjects picks each subject's
    attributes and dates from. -#}
{%- set kinds = record_kinds() %}
{%- set subject_kinds = subject_record_kinds() %}
with

registrations as (

    select
        subject_key,
        case
            when subject_category = '个体工商户' then 'individual_business'
            else 'organisation'
        end as subject_kind,
        uscc,
        subject_name,
        legal_rep,
        legal_rep_id_number_hash,
        legal_rep_id_number_masked,
        null::text as id_number_hash,
        null::text as id_number_masked,
        record_kind,
        record_date,
        updated_at,
        raw_row_id,
        batch_id,
        logical_date
    from {{ ref('stg_raw__registrations') }}

),

subject_group_records as (

    {% for name in subject_kinds.subject_type %}
        select
            subject_key,
            subject_type_code as subject_kind,
            uscc,
            subject_name,
            legal_rep,
            legal_rep_id_number_hash,
            legal_rep_id_number_masked,
            id_number_hash,
            id_number_masked,
            record_kind,
            record_date,
            updated_at,
            raw_row_id,
            batch_id,
            logical_date
        from {{ ref(kinds[name].model) }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

uscc_only_records as (

    {% for name in subject_kinds.uscc_only %}
        select
            subject_key,
            -- 92: an individual business (个体工商户) by the USCC's category (GB 32100).
            case
                when left(uscc, 2) = '92' then 'individual_business'
                else 'organisation'
            end as subject_kind,
            uscc,
            subject_name,
            null::text as legal_rep,
            null::text as legal_rep_id_number_hash,
            null::text as legal_rep_id_number_masked,
            null::text as id_number_hash,
            null::text as id_number_masked,
            record_kind,
            record_date,
            updated_at,
            raw_row_id,
            batch_id,
            logical_date
        from {{ ref(kinds[name].model) }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

unioned as (

    select * from registrations
    union all
    select * from subject_group_records
    union all
    select * from uscc_only_records

),

-- The rows landed by the as-of night (macros/as_of/known.sql): a night's own build, all.
final as (

    select unioned.*
    from unioned
    cross join {{ ref('int_lifecycle_as_of') }} as as_of
    where {{ known_on_as_of('unioned') }}

)

select * from final

{#- The state of the incremental dim_subjects: intermediate.subject_batches holds the batches
    whose rows it was built from; a night rebuilds the subjects the other batches name
    (int_subject_batches, int_subjects_changed). -#}

{#- on-run-start: the state table, empty until dim_subjects is first built. -#}
{% macro create_subject_state() %}
    create schema if not exists intermediate;
    create table if not exists intermediate.subject_batches (batch_id bigint primary key)
{% endmacro %}


{#- Pre-hook of dim_subjects (in its transaction): drop the subjects rebuilt tonight. -#}
{% macro prune_subjects() %}
    {%- if is_incremental() %}
    delete from {{ this }}
    where subject_key in (select subject_key from {{ ref('int_subjects_changed') }})
    {%- endif %}
{% endmacro %}


{#- Post-hook of dim_subjects (in its transaction): the batches it now holds (on a full build,
    every batch staged), and the division names of every subject as the seed has them now, so
    a renamed division reaches the subjects not rebuilt tonight. -#}
{% macro store_subject_state() %}
    {%- if is_incremental() %}
    insert into intermediate.subject_batches (batch_id)
    select batch_id from {{ ref('int_subject_batches') }};
    update {{ this }} as subjects
    set division_name = divisions.name_zh
    from {{ ref('jiangyin_divisions') }} as divisions
    where
        subjects.division_code = divisions.division_code
        and subjects.division_name is distinct from divisions.name_zh
    {%- else %}
    truncate intermediate.subject_batches;
    insert into intermediate.subject_batches (batch_id)
    select batch_id from {{ ref('int_subject_batches') }}
    union
    select distinct batch_id from {{ ref('int_subjects_unioned') }}
    {%- endif %}
{% endmacro %}

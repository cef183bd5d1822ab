{#- The state of fct_publicity_periods' incremental build: intermediate.publicity_periods_state,
    one row, what its last build read: the rules (an MD5 of the seeds the periods follow), the
    latest staged_at of the permits and penalties (a night reads the versions staged after it)
    and the as-of date (the versions landed after its night were left out). -#}

{#- on-run-start: the state table, empty until fct_publicity_periods is first built. -#}
{% macro create_publicity_periods_state() %}
    create schema if not exists intermediate;
    create table if not exists intermediate.publicity_periods_state (
        rules_fingerprint text not null,
        permits_staged_at timestamptz,
        penalties_staged_at timestamptz,
        as_of_date date not null
    );
{% endmacro %}


{#- The rules behind the periods: the tiers' periods (publicity_rules, penalty_publicity_tiers),
    the working days allowed to withdraw a record (publicity_record_kinds) and the calendar they
    are counted on (working_days), as one MD5 of their rows. -#}
{% macro publicity_rules_fingerprint() -%}
    select md5(string_agg(seed_rows.row_text, ',' order by seed_rows.row_text))
    from (
        select 'kind ' || record_kinds::text as row_text
        from {{ ref('publicity_record_kinds') }} as record_kinds
        union all
        select 'rule ' || publicity_rules::text
        from {{ ref('publicity_rules') }} as publicity_rules
        union all
        select 'tier ' || penalty_tiers::text
        from {{ ref('penalty_publicity_tiers') }} as penalty_tiers
        union all
        select 'day ' || working_days::text
        from {{ ref('working_days') }} as working_days
    ) as seed_rows
{%- endmacro %}


{#- Whether the state names what this build reads: the same rules, an as-of date not after
    tonight's. When not, the build writes every record (the model's every_record). -#}
{% macro publicity_periods_state_holds() -%}
    exists (
        select from intermediate.publicity_periods_state as state
        where
            state.rules_fingerprint = ({{ publicity_rules_fingerprint() }})
            and state.as_of_date <= {{ as_of_date_expression() }}
    )
{%- endmacro %}


{#- Pre-hook of fct_publicity_periods: before a build that writes every record into the table,
    empty it, so that no record the rules or the as-of date no longer produce stays. -#}
{% macro reset_publicity_periods() %}
    do $reset$
    begin
        if to_regclass('{{ this }}') is not null and not {{ publicity_periods_state_holds() }} then
            truncate {{ this }};
        end if;
    end
    $reset$
{% endmacro %}


{#- Post-hook of fct_publicity_periods (in its transaction): deletes the dishonesty records no
    longer among the candidates, then records what the build read. -#}
{% macro store_publicity_periods_state() %}
    delete from {{ this }} as kept
    where
        kept.record_kind = 'dishonesty'
        and not exists (
            select from {{ ref('int_publicity_candidates') }} as candidates
            where
                candidates.record_kind = 'dishonesty'
                and candidates.publicity_record_id = kept.publicity_record_id
        );
    truncate intermediate.publicity_periods_state;
    insert into intermediate.publicity_periods_state
    select
        ({{ publicity_rules_fingerprint() }}),
        (select max(staged_at) from {{ ref('stg_raw__permits') }}),
        (select max(staged_at) from {{ ref('stg_raw__penalties') }}),
        {{ as_of_date_expression() }}
{% endmacro %}

{#- The state of the issued inspection plans (models/marts/supervision/fct_inspection_plans): a
    quarter's plan is issued once, the first night of the quarter the warehouse builds, and
    never drawn again (int_inspection_quarters). -#}

{#- on-run-start: the quarters issued, the night each was issued and the checksum of the rules
    it was drawn by, empty until the plans are first built. A warehouse of an earlier release
    (which drew a quarter again when its rules changed) gets the issue date, null for the
    quarters it drew. -#}
{% macro create_inspection_state() %}
    create schema if not exists intermediate;
    create table if not exists intermediate.drawn_quarters (
        plan_quarter text primary key,
        draw_rules_md5 text not null
    );
    alter table intermediate.drawn_quarters add column if not exists issued_date date;
{% endmacro %}


{#- Post-hook of fct_inspection_plans (in its transaction): the quarter issued tonight. -#}
{% macro store_issued_quarters() %}
    insert into intermediate.drawn_quarters (plan_quarter, draw_rules_md5, issued_date)
    select plan_quarter, draw_rules_md5, issued_date from {{ ref('int_inspection_quarters') }}
    on conflict (plan_quarter) do nothing
{% endmacro %}

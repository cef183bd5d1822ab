{#- Post-hook of every seed: the constraints its columns declare in YAML (not_null, unique,
    check), made PostgreSQL constraints of the loaded table, in one statement. dbt enforces
    constraints only on contracted models; for a seed this hook does it. A row that breaks one
    fails the seed's load, and everything built on the seed is skipped, as a failing test would
    make it; the database's message names the constraint. A seed reloaded without
    --full-refresh keeps its table, hence the drop before each add. Seeds are analysed too, for
    the plans of the models that join them. -#}
{% macro enforce_seed_constraints() %}
    {%- set actions = [] -%}
    {%- for column in model.columns.values() -%}
        {%- set quoted = adapter.quote(column.name) -%}
        {%- for constraint in column.constraints -%}
            {%- set name = [this.identifier, column.name, constraint.type] | join('__') -%}
            {%- set name = adapter.quote(name) -%}
            {%- if constraint.type == 'not_null' -%}
                {%- do actions.append('alter column ' ~ quoted ~ ' set not null') -%}
            {%- elif constraint.type == 'unique' -%}
                {%- do actions.append('drop constraint if exists ' ~ name) -%}
                {%- do actions.append('add constraint ' ~ name ~ ' unique (' ~ quoted ~ ')') -%}
            {%- elif constraint.type == 'check' -%}
                {%- do actions.append('drop constraint if exists ' ~ name) -%}
                {%- set check = 'check (' ~ constraint.expression ~ ')' -%}
                {%- do actions.append('add constraint ' ~ name ~ ' ' ~ check) -%}
            {%- else -%}
                {{ exceptions.raise_compiler_error(
                    'seed ' ~ this.identifier ~ '.' ~ column.name ~ ': constraint type '
                    ~ constraint.type ~ ' is not enforced on seeds (not_null, unique, check)') }}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- if actions %}
    alter table {{ this }} {{ actions | join(', ') }};
    {%- endif %}
    analyze {{ this }}
{% endmacro %}

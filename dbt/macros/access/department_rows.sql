{#- Row-level security (行级权限) of a mart that departments read: each department's role
    (dept_<dept_code>, a member of credit_departments) sees the rows whose `column` names it
    (谁认定、谁负责: the department that recorded the fact, the one responsible for the
    warning); the credit office and the analysts see every row; the owner
    (credit_transformer, which builds the table) is not subject to the policies. A post-hook of
    the model, after its grants (credit.roles, dbt_project.yml): a table built anew has no
    policies, an incremental one keeps them and has them replaced. -#}
{% macro department_rows(column) %}
    alter table {{ this }} enable row level security;
    drop policy if exists every_row on {{ this }};
    create policy every_row on {{ this }} for select
    to credit_office, credit_analyst using (true);
    drop policy if exists own_department on {{ this }};
    create policy own_department on {{ this }} for select
    to credit_departments using ({{ column }} in ({{ current_departments() }}));
{% endmacro %}

{#- A second post-hook, after department_rows, where the departments supervising a subject read
    its rows too (谁监管: joint punishment, 联合惩戒): those of the subjects in the industry
    sections (column industry_section) the department supervises. -#}
{% macro supervised_rows() %}
    drop policy if exists supervised_section on {{ this }};
    create policy supervised_section on {{ this }} for select
    to credit_departments using (industry_section in ({{ supervised_sections() }}));
{% endmacro %}

{#- The departments the session's user acts for: the dept_<code> roles it is a member of. -#}
{% macro current_departments() -%}
    select substr(r.rolname, length('dept_') + 1)
    from pg_catalog.pg_roles as r
    where r.rolname like 'dept\_%' and pg_catalog.pg_has_role(current_user, r.oid, 'member')
{%- endmacro %}

{#- The industry sections the session user's departments supervise (dim_section_supervisors). -#}
{% macro supervised_sections() -%}
    select supervisors.industry_section
    from marts.dim_section_supervisors as supervisors
    where supervisors.dept_code in ({{ current_departments() }})
{%- endmacro %}

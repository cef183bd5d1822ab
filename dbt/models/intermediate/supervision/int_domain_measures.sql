{#- The measures that apply in each industry section (industry_domains, `*` = everyone else), per
    grade: the measure list (supervision_measures) of every department supervising the section
    (dim_section_supervisors: inspection_scopes and its domain's lead department); a department's own row replaces the
    all-department (`*`) row of the same measure code. A subject's measures follow from its
    section and current grade alone (fct_subject_measures), so they are matched from the rule
    seeds here, not per subject. -#}

with

supervisors as (

    select * from {{ ref('dim_section_supervisors') }}

),

department_measures as (

    select
        departments.dept_code,
        measures.grade,
        measures.measure_code,
        measures.measure_zh,
        measures.measure_area,
        measures.joint_punishment,
        row_number() over (
            partition by departments.dept_code, measures.grade, measures.measure_code
            order by (measures.dept_code = '*')
        ) as override_rank
    from {{ ref('departments') }} as departments
    inner join {{ ref('supervision_measures') }} as measures
        on measures.dept_code in (departments.dept_code, '*')

),

final as (

    select
        supervisors.industry_section
        || '|' || department_measures.grade
        || '|' || supervisors.dept_code
        || '|' || department_measures.measure_code as domain_measure_key,
        supervisors.industry_section,
        department_measures.grade,
        supervisors.dept_code,
        department_measures.measure_code,
        department_measures.measure_zh,
        department_measures.measure_area,
        department_measures.joint_punishment
    from supervisors
    inner join department_measures
        on
            supervisors.dept_code = department_measures.dept_code
            and department_measures.override_rank = 1

)

select * from final

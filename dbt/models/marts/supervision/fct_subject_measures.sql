{#- Measures matched to each subject (措施自动匹配): for its current grade, the measures of
    `supervision_measures` of every department that supervises its industry section
    (`inspection_scopes`) and of its domain's lead department; a department's own row
    replaces the all-department (`*`) row of the same measure code. -#}

with

subjects as (

    select * from {{ ref('int_subject_domains') }}

),

grades as (

    select
        subject_key,
        grade
    from {{ ref('fct_subject_grades') }}
    where is_current

),

supervisors as (

    select
        subjects.subject_key,
        scopes.dept_code
    from subjects
    inner join {{ ref('inspection_scopes') }} as scopes
        on subjects.industry_section = scopes.industry_section
    union
    select
        subject_key,
        lead_dept_code as dept_code
    from subjects

),

measures as (

    select * from {{ ref('supervision_measures') }}

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
    inner join measures on measures.dept_code in (departments.dept_code, '*')

),

final as (

    select
        (
            supervisors.subject_key
            || '|'
            || supervisors.dept_code
            || '|'
            || department_measures.measure_code
        )::text
            as subject_measure_key,
        supervisors.subject_key::text as subject_key,
        supervisors.dept_code::text as dept_code,
        grades.grade::text as grade,
        department_measures.measure_code::text as measure_code,
        department_measures.measure_zh::text as measure_name,
        department_measures.measure_area::text as measure_area,
        department_measures.joint_punishment::boolean as joint_punishment
    from supervisors
    inner join grades on supervisors.subject_key = grades.subject_key
    inner join department_measures
        on
            supervisors.dept_code = department_measures.dept_code
            and grades.grade = department_measures.grade
            and department_measures.override_rank = 1

)

select * from final

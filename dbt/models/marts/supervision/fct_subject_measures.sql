{#- Measures matched to each subject (措施自动匹配): for its current grade, the measures of its
    industry section (int_domain_measures: every department that supervises the section and its
    domain's lead department). A view: a subject's rows follow from its section and current
    grade, so a night stores nothing per subject and a look-up by subject reads its grade by
    index (materialised, it rewrote millions of rows a night at the county's size). -#}

{{ config(materialized='view') }}

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

measures as (

    select * from {{ ref('int_domain_measures') }}

),

final as (

    select
        (subjects.subject_key || '|' || measures.dept_code || '|' || measures.measure_code)::text
            as subject_measure_key,
        subjects.subject_key::text as subject_key,
        measures.dept_code::text as dept_code,
        grades.grade::text as grade,
        measures.measure_code::text as measure_code,
        measures.measure_zh::text as measure_name,
        measures.measure_area::text as measure_area,
        measures.joint_punishment::boolean as joint_punishment
    from subjects
    inner join grades on subjects.subject_key = grades.subject_key
    inner join measures
        on
            subjects.industry_section = measures.industry_section
            and grades.grade = measures.grade

)

select * from final

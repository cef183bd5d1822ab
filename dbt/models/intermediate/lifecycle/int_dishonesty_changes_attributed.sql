{#- Every change of a dishonesty record after its identification known on the as-of date, with
    its cause (变更原因): each correction (更正) and revocation (撤销) version the department
    sent, and each objection (异议) closed against the record, one row per change.

    An objection closed with 更正 or 撤销 is applied by the first version of that change type
    the department sent on or after the outcome date: the two are one change, caused by the
    objection (when several objections claim one version, the latest closed is its cause).
    A version no objection claims is the department's own decision; an objection whose version
    has not come yet is a change of its own, the version pending (a revocation takes effect on
    the outcome date without it); an objection closed with 维持 confirms the record. -#}
{#- A table, computed once a build: read by the version history and the change log, each of which
    recomputed it as a view. -#}
{{ config(materialized='table') }}

with

as_of as (

    select * from {{ ref('int_lifecycle_as_of') }}

),

versions as (

    select * from {{ ref('int_dishonesty_versions_ruled') }}

),

objections as (

    select * from {{ ref('int_dishonesty_objections_asof') }}

),

changed_versions as (

    select versions.*
    from versions
    cross join as_of
    where
        {{ known_on_as_of('versions') }}
        and versions.change_type_code in ('correct', 'revoke')

),

closed_objections as (

    select * from objections
    where outcome_code is not null

),

applying as (

    select
        closed_objections.dishonesty_doc_no,
        closed_objections.objection_no,
        closed_objections.outcome_date,
        changed_versions.version_number,
        row_number() over (
            partition by closed_objections.dishonesty_doc_no, closed_objections.objection_no
            order by changed_versions.version_number
        ) as version_rank
    from closed_objections
    inner join changed_versions
        on
            closed_objections.dishonesty_doc_no = changed_versions.decision_doc_no
            and closed_objections.outcome_effect_code = changed_versions.change_type_code
            and closed_objections.outcome_date <= changed_versions.known_date

),

applied as (

    select
        dishonesty_doc_no,
        objection_no,
        version_number,
        row_number() over (
            partition by dishonesty_doc_no, version_number
            order by outcome_date desc, objection_no desc
        ) as claim_rank
    from applying
    where version_rank = 1

),

attributed_objections as (

    select
        closed_objections.*,
        applied.version_number
    from closed_objections
    left join applied
        on
            closed_objections.dishonesty_doc_no = applied.dishonesty_doc_no
            and closed_objections.objection_no = applied.objection_no
            and applied.claim_rank = 1

),

changes as (

    select
        coalesce(changed_versions.decision_doc_no, attributed_objections.dishonesty_doc_no)
            as decision_doc_no,
        coalesce(changed_versions.change_type_code, attributed_objections.outcome_effect_code)
            as change_type_code,
        coalesce(changed_versions.change_type, attributed_objections.outcome) as change_type,
        case
            when attributed_objections.objection_no is not null then 'objection'
            else 'department'
        end as change_cause_code,
        case
            when attributed_objections.outcome_effect_code = 'revoke'
                then least(attributed_objections.outcome_date, changed_versions.known_date)
            else coalesce(changed_versions.known_date, attributed_objections.outcome_date)
        end as change_date,
        coalesce(
            attributed_objections.outcome_effect_code in ('correct', 'revoke')
            and changed_versions.version_number is null,
            false
        ) as version_pending,
        attributed_objections.objection_no,
        attributed_objections.dept_code as objection_dept_code,
        attributed_objections.filed_date as objection_filed_date,
        attributed_objections.outcome as objection_outcome,
        attributed_objections.outcome_date as objection_outcome_date,
        attributed_objections.closing_raw_row_id as objection_raw_row_id,
        attributed_objections.closing_batch_id as objection_batch_id,
        attributed_objections.closing_source_ref as objection_source_ref,
        changed_versions.version_number,
        changed_versions.known_date as version_known_date,
        changed_versions.remarks as version_remarks,
        changed_versions.raw_row_id as version_raw_row_id,
        changed_versions.batch_id as version_batch_id,
        changed_versions.source_ref as version_source_ref
    from changed_versions
    full outer join attributed_objections
        on
            changed_versions.decision_doc_no = attributed_objections.dishonesty_doc_no
            and changed_versions.version_number = attributed_objections.version_number

),

final as (

    select
        decision_doc_no || '#' || coalesce(version_number::text, objection_no) as change_key,
        decision_doc_no,
        change_date,
        change_type_code,
        change_type,
        change_cause_code,
        case change_cause_code
            when 'objection'
                then
                    '异议' || objection_no || '（' || objection_filed_date::text || '受理）于'
                    || objection_outcome_date::text || '办结，处理结果：' || objection_outcome
            else '认定部门' || change_type
        end as change_cause,
        version_pending,
        objection_no,
        objection_dept_code,
        objection_filed_date,
        objection_outcome_date,
        objection_raw_row_id,
        objection_batch_id,
        objection_source_ref,
        version_number,
        version_known_date,
        version_remarks,
        version_raw_row_id,
        version_batch_id,
        version_source_ref
    from changes

)

select * from final

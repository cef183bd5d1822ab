{#- The objections (异议) against dishonesty records known on the as-of date, one row per
    record and objection number: filed (受理) and, once closed (办结), its outcome and the
    effect that outcome has on the record, with the lineage of the closing row so a
    correction or revocation it caused is traceable to its source row.  A stage counts once
    the warehouse has landed it (known_on_as_of()) and its own date has come; of several
    versions of one stage the latest known counts, and a revoked one not at all. -#}

with

as_of as (

    select * from {{ ref('int_lifecycle_as_of') }}

),

objection_versions as (

    select * from {{ ref('stg_raw__objections') }}

),

known as (

    select
        objection_versions.target_doc_no as dishonesty_doc_no,
        objection_versions.objection_no,
        objection_versions.dept_code,
        objection_versions.stage_code,
        objection_versions.filed_date,
        objection_versions.outcome,
        objection_versions.outcome_code,
        objection_versions.outcome_date,
        objection_versions.raw_row_id,
        objection_versions.batch_id,
        objection_versions.source_ref,
        objection_versions.logical_date,
        objection_versions.change_type_code,
        row_number() over (
            partition by
                objection_versions.target_doc_no,
                objection_versions.objection_no,
                objection_versions.stage_code
            order by objection_versions.updated_at desc, objection_versions.raw_row_id desc
        ) as known_rank
    from objection_versions
    cross join as_of
    where
        objection_versions.target_kind = '失信行为认定'
        and {{ known_on_as_of('objection_versions') }}
        and objection_versions.filed_date <= as_of.as_of_date
        and (
            objection_versions.outcome_date is null
            or objection_versions.outcome_date <= as_of.as_of_date
        )

),

stages as (

    select * from known
    where known_rank = 1 and change_type_code <> 'revoke'

),

closings as (

    select * from stages
    where stage_code = 'closed'

),

cases as (

    select
        dishonesty_doc_no,
        objection_no,
        min(dept_code) as dept_code,
        min(filed_date) as filed_date,
        row_number() over (
            partition by dishonesty_doc_no
            order by min(filed_date) desc, objection_no desc
        ) as objection_rank
    from stages
    group by dishonesty_doc_no, objection_no

),

final as (

    select
        cases.dishonesty_doc_no,
        cases.objection_no,
        cases.dept_code,
        cases.filed_date,
        closings.outcome,
        closings.outcome_code,
        case closings.outcome_code
            when 'upheld' then 'confirm'
            when 'corrected' then 'correct'
            when 'revoked' then 'revoke'
        end as outcome_effect_code,
        closings.outcome_date,
        cases.objection_rank,
        closings.raw_row_id as closing_raw_row_id,
        closings.batch_id as closing_batch_id,
        closings.source_ref as closing_source_ref,
        closings.logical_date as closing_logical_date
    from cases
    left join closings
        on
            cases.dishonesty_doc_no = closings.dishonesty_doc_no
            and cases.objection_no = closings.objection_no

)

select * from final

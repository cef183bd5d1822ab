{#- The follow-ups of each dishonesty record known on the as-of date: rectification (限期整改),
    interviews (约谈), credit repair (信用修复) and objections (异议), one row per decision
    document.  A follow-up counts once the warehouse has landed it (known_on_as_of()) and its
    own date has come; of several versions of one follow-up the latest known counts, and a
    revoked one not at all.
    Repair and objection numbers are only unique within their dishonesty record, so versions
    are told apart by record and number together. -#}

with

as_of as (

    select * from {{ ref('int_lifecycle_as_of') }}

),

rectification_versions as (

    select * from {{ ref('stg_raw__rectifications') }}

),

interview_versions as (

    select * from {{ ref('stg_raw__interviews') }}

),

repair_versions as (

    select * from {{ ref('stg_raw__credit_repairs') }}

),

objections as (

    select * from {{ ref('int_dishonesty_objections_asof') }}

),

rectifications as (

    select
        rectification_versions.dishonesty_doc_no,
        rectification_versions.completion_date,
        row_number() over (
            partition by rectification_versions.dishonesty_doc_no
            order by rectification_versions.updated_at desc, rectification_versions.raw_row_id desc
        ) as known_rank,
        rectification_versions.change_type_code
    from rectification_versions
    cross join as_of
    where
        {{ known_on_as_of('rectification_versions') }}
        and rectification_versions.completion_date <= as_of.as_of_date

),

interviews as (

    select
        interview_versions.dishonesty_doc_no,
        interview_versions.interview_type_code,
        interview_versions.interview_date,
        row_number() over (
            partition by
                interview_versions.dishonesty_doc_no, interview_versions.interview_type_code
            order by interview_versions.updated_at desc, interview_versions.raw_row_id desc
        ) as known_rank,
        interview_versions.change_type_code
    from interview_versions
    cross join as_of
    where
        {{ known_on_as_of('interview_versions') }}
        and interview_versions.interview_date <= as_of.as_of_date

),

repairs as (

    select
        repair_versions.dishonesty_doc_no,
        repair_versions.repair_no,
        repair_versions.stage_code,
        repair_versions.application_date,
        repair_versions.decision_code,
        repair_versions.decision_date,
        row_number() over (
            partition by
                repair_versions.dishonesty_doc_no,
                repair_versions.repair_no,
                repair_versions.stage_code
            order by repair_versions.updated_at desc, repair_versions.raw_row_id desc
        ) as known_rank,
        repair_versions.change_type_code
    from repair_versions
    cross join as_of
    where
        {{ known_on_as_of('repair_versions') }}
        and repair_versions.application_date <= as_of.as_of_date
        and (
            repair_versions.decision_date is null
            or repair_versions.decision_date <= as_of.as_of_date
        )

),

rectified as (

    select
        dishonesty_doc_no,
        min(completion_date) as rectification_completion_date
    from rectifications
    where known_rank = 1 and change_type_code <> 'revoke'
    group by dishonesty_doc_no

),

interviewed as (

    select
        dishonesty_doc_no,
        min(interview_date) filter (
            where interview_type_code = 'reminder'
        ) as reminder_interview_date,
        min(interview_date) filter (
            where interview_type_code = 'warning'
        ) as warning_interview_date
    from interviews
    where known_rank = 1 and change_type_code <> 'revoke'
    group by dishonesty_doc_no

),

repair_stages as (

    select * from repairs
    where known_rank = 1 and change_type_code <> 'revoke'

),

repaired as (

    select
        dishonesty_doc_no,
        max(application_date) as repair_application_date,
        (array_agg(decision_code order by decision_date desc, repair_no desc) filter (
            where stage_code = 'decision'
        ))[1] as repair_decision_code,
        max(decision_date) filter (where stage_code = 'decision') as repair_decision_date,
        min(decision_date) filter (
            where stage_code = 'decision' and decision_code = 'approved'
        ) as repair_approved_date
    from repair_stages
    group by dishonesty_doc_no

),

objected as (

    select
        dishonesty_doc_no,
        objection_no,
        filed_date as objection_filed_date,
        outcome_code as objection_outcome_code,
        outcome_date as objection_outcome_date
    from objections
    where objection_rank = 1

),

-- An objection closed with 撤销 revokes the record on its outcome date, whether or not the
-- department has sent the revoked version yet.
objection_revoked as (

    select
        dishonesty_doc_no,
        min(outcome_date) as objection_revocation_date
    from objections
    where outcome_code = 'revoked'
    group by dishonesty_doc_no

),

documents as (

    select dishonesty_doc_no from rectified
    union
    select dishonesty_doc_no from interviewed
    union
    select dishonesty_doc_no from repaired
    union
    select dishonesty_doc_no from objected

),

final as (

    select
        documents.dishonesty_doc_no,
        rectified.rectification_completion_date,
        interviewed.reminder_interview_date,
        interviewed.warning_interview_date,
        repaired.repair_application_date,
        repaired.repair_decision_code,
        repaired.repair_decision_date,
        repaired.repair_approved_date,
        objected.objection_no,
        objected.objection_filed_date,
        objected.objection_outcome_code,
        objected.objection_outcome_date,
        objection_revoked.objection_revocation_date
    from documents
    left join rectified on documents.dishonesty_doc_no = rectified.dishonesty_doc_no
    left join interviewed on documents.dishonesty_doc_no = interviewed.dishonesty_doc_no
    left join repaired on documents.dishonesty_doc_no = repaired.dishonesty_doc_no
    left join objected on documents.dishonesty_doc_no = objected.dishonesty_doc_no
    left join objection_revoked
        on documents.dishonesty_doc_no = objection_revoked.dishonesty_doc_no

)

select * from final

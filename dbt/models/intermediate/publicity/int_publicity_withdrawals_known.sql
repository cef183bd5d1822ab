{#- 撤下事由获知日 The day the warehouse learned of each withdrawn dishonesty record's change, as
    known on the as-of date: a repair or an objection's revocation is dated by its decision,
    which its system may record, and the warehouse receive, days later; the warehouse learns of
    it the night the first row saying so was landed (known_on_as_of()). A revocation by the
    department's own 撤销 version is learned the night that version was landed; a correction on
    its exit date, the day its version was stamped. -#}

with

as_of as (

    select * from {{ ref('int_lifecycle_as_of') }}

),

dishonesty_records as (

    select * from {{ ref('fct_dishonesty_records') }}

),

record_versions as (

    select * from {{ ref('fct_dishonesty_record_versions') }}

),

repair_versions as (

    select * from {{ ref('stg_raw__credit_repairs') }}

),

objection_versions as (

    select * from {{ ref('stg_raw__objections') }}

),

-- The first night a row approving a repair with its decision date was landed.
repair_approvals as (

    select
        repair_versions.dishonesty_doc_no,
        repair_versions.decision_date,
        min(repair_versions.logical_date) as known_date
    from repair_versions
    cross join as_of
    where
        {{ known_on_as_of('repair_versions') }}
        and repair_versions.stage_code = 'decision'
        and repair_versions.decision_code = 'approved'
        and repair_versions.change_type_code <> 'revoke'
    group by repair_versions.dishonesty_doc_no, repair_versions.decision_date

),

-- The first night a row closing an objection with 撤销 on its outcome date was landed.
objection_revocations as (

    select
        objection_versions.target_doc_no as dishonesty_doc_no,
        objection_versions.outcome_date,
        min(objection_versions.logical_date) as known_date
    from objection_versions
    cross join as_of
    where
        {{ known_on_as_of('objection_versions') }}
        and objection_versions.target_kind = '失信行为认定'
        and objection_versions.stage_code = 'closed'
        and objection_versions.outcome_code = 'revoked'
        and objection_versions.change_type_code <> 'revoke'
    group by objection_versions.target_doc_no, objection_versions.outcome_date

),

department_revocations as (

    select
        decision_doc_no,
        min(logical_date) as known_date
    from record_versions
    where change_type_code = 'revoke'
    group by decision_doc_no

),

final as (

    -- A repair approved before the minimum period ends is a withdrawal only from that day
    -- (the exit date): never learned before the day itself.
    select
        'dishonesty:' || dishonesty_records.dept_code || '|' || dishonesty_records.decision_doc_no
            as publicity_record_id,
        greatest(
            dishonesty_records.exit_date,
            case dishonesty_records.exit_reason
                when 'repair' then repair_approvals.known_date
                when 'revocation'
                    then least(department_revocations.known_date, objection_revocations.known_date)
            end
        ) as withdrawal_known_date
    from dishonesty_records
    left join repair_approvals
        on
            dishonesty_records.decision_doc_no = repair_approvals.dishonesty_doc_no
            and dishonesty_records.repair_approved_date = repair_approvals.decision_date
    left join objection_revocations
        on
            dishonesty_records.decision_doc_no = objection_revocations.dishonesty_doc_no
            and dishonesty_records.exit_date = objection_revocations.outcome_date
    left join department_revocations
        on dishonesty_records.decision_doc_no = department_revocations.decision_doc_no
    where dishonesty_records.exit_reason in ('repair', 'revocation', 'correction')

)

select * from final

{#- Related-party risk (关联方风险): a subject whose legal representative (法定代表人, the key
    person the registrations name) is also the legal representative of another subject, or is
    himself a natural-person subject, holding a serious dishonesty record. One row per subject
    and serious record, while the record is active (ends at its exit). Matched on the keyed
    hash of the resident ID, never the ID; a subject of the same name is the same firm, not a
    relative. -#}

with

subjects as (

    select * from {{ ref('int_subject_domains') }}
    where legal_rep_id_number_hash is not null

),

serious as (

    select * from {{ ref('fct_dishonesty_records') }}
    where severity_code = 'serious'

),

-- The subjects with a serious record, first: the pairs sharing a legal representative are looked
-- for only where one of them has such a record (thousands), not among every subject (all pairs of
-- the county's, sorted, cost seconds a night and grew with the register).
serious_subjects as (

    select distinct subject_key from serious

),

related as (

    select
        subjects.subject_key,
        other_subjects.subject_key as related_subject_key,
        'shared_legal_rep' as relation_type
    from subjects as other_subjects
    inner join serious_subjects on other_subjects.subject_key = serious_subjects.subject_key
    inner join subjects
        on
            other_subjects.legal_rep_id_number_hash = subjects.legal_rep_id_number_hash
            and other_subjects.subject_key <> subjects.subject_key
            -- The same name and legal representative is the same firm under a legacy identifier
            -- no rule could link yet (旧标识), not a related party.
            and other_subjects.subject_name is distinct from subjects.subject_name
    union
    select
        subjects.subject_key,
        serious_subjects.subject_key as related_subject_key,
        'legal_rep_himself' as relation_type
    from subjects
    inner join serious_subjects
        on 'P:' || subjects.legal_rep_id_number_hash = serious_subjects.subject_key

),

final as (

    select
        related.subject_key,
        related.related_subject_key,
        related.relation_type,
        serious.subject_name as related_subject_name,
        serious.decision_doc_no,
        serious.dept_code,
        serious.behaviour,
        serious.decision_date as risk_start,
        serious.exit_date as risk_end
    from related
    inner join serious on related.related_subject_key = serious.subject_key

)

select * from final

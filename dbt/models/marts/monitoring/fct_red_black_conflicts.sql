{#- Red/black list cross-comparison (红黑名单交叉比对): every period in which a subject held
    an honour of the incentive list (红名单: awarded, not past valid_to, not revoked) and an
    active dishonesty record at the same time. One row per honour and record; the conflict
    starts when both hold and ends when either ends (null: still holds). -#}

with

commendations as (

    select
        subject_key,
        dept_code,
        record_key as commendation_key,
        doc_no as commendation_doc_no,
        honour_name,
        award_date,
        case
            when change_type_code = 'revoke'
                then
                    least(
                        valid_to + 1,
                        (
                            updated_at at time zone '{{ var("county_timezone", "Asia/Shanghai") }}'
                        )::date
                    )
            else valid_to + 1
        end as honour_end
    from ({{ known_latest(ref('stg_raw__commendations')) }}) as known
    where subject_key is not null

),

records as (

    select * from {{ ref('fct_dishonesty_records') }}

),

final as (

    select
        commendations.subject_key,
        commendations.dept_code as commendation_dept_code,
        commendations.commendation_key,
        commendations.commendation_doc_no,
        commendations.honour_name,
        records.decision_doc_no,
        records.dept_code as dishonesty_dept_code,
        records.severity_code,
        greatest(commendations.award_date, records.decision_date) as conflict_start,
        nullif(
            least(commendations.honour_end, coalesce(records.exit_date, 'infinity'::date)),
            'infinity'::date
        ) as conflict_end
    from commendations
    inner join records
        on
            commendations.subject_key = records.subject_key
            and commendations.award_date < coalesce(records.exit_date, 'infinity'::date)
            and commendations.honour_end > records.decision_date

)

select * from final

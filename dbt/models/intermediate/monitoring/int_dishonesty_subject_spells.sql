{#- Subjects in the stock (失信主体存量): the intervals of one subject's records within one
    slice merged into spells. A subject enters a slice's stock when it begins to hold an active
    record of it, by transfer when one of the records starting the spell moved in with the
    subject's attribute; it leaves when it holds none, for the reason of the record ending the
    spell (the same day: a transfer first, then revocation, repair, expiry). -#}

with

intervals as (

    select * from {{ ref('int_dishonesty_intervals') }}
    where subject_key is not null

),

ordered as (

    select
        *,
        max(coalesce(end_date, 'infinity'::date)) over (
            partition by subject_key, dimension, dimension_value
            order by start_date, decision_doc_no
            rows between unbounded preceding and 1 preceding
        ) as covered_until
    from intervals

),

numbered as (

    select
        *,
        count(*) filter (
            where covered_until is null or start_date > covered_until
        ) over (
            partition by subject_key, dimension, dimension_value
            order by start_date, decision_doc_no
        ) as spell_number
    from ordered

),

spells as (

    select
        subject_key,
        dimension,
        dimension_value,
        spell_number,
        min(start_date) as start_date,
        nullif(max(coalesce(end_date, 'infinity'::date)), 'infinity'::date) as end_date,
        (array_agg(starts_by_transfer order by start_date asc, starts_by_transfer desc))[1]
            as starts_by_transfer,
        -- Of the records ending a closed spell's last day, a revocation first, then a repair.
        case
            when bool_and(end_date is not null)
                then
                    (array_agg(
                        exit_reason
                        order by
                            end_date desc,
                            case exit_reason
                                when 'transfer' then 0
                                when 'revocation' then 1
                                when 'repair' then 2
                                else 3
                            end,
                            exit_reason asc
                    ))[1]
        end as exit_reason
    from numbered
    group by subject_key, dimension, dimension_value, spell_number

)

select * from spells

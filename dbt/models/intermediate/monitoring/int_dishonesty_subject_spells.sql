{#- Subjects in the stock (失信主体存量): the intervals of one subject's records within one
    slice merged into spells. A subject enters a slice's stock when it begins to hold an active
    record of it and leaves when it holds none; its exit reason is that of the record ending
    the spell (the same day: revocation, repair, expiry). -#}

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
        nullif(max(coalesce(end_date, 'infinity'::date)), 'infinity'::date) as end_date
    from numbered
    group by subject_key, dimension, dimension_value, spell_number

),

ending_reasons as (

    select distinct on (
        numbered.subject_key, numbered.dimension, numbered.dimension_value, numbered.spell_number
    )
        numbered.subject_key,
        numbered.dimension,
        numbered.dimension_value,
        numbered.spell_number,
        numbered.exit_reason
    from numbered
    inner join spells
        on
            numbered.subject_key = spells.subject_key
            and numbered.dimension = spells.dimension
            and numbered.dimension_value = spells.dimension_value
            and numbered.spell_number = spells.spell_number
            and numbered.end_date = spells.end_date
    order by
        numbered.subject_key,
        numbered.dimension,
        numbered.dimension_value,
        numbered.spell_number,
        case numbered.exit_reason when 'revocation' then 1 when 'repair' then 2 else 3 end

),

final as (

    select
        spells.subject_key,
        spells.dimension,
        spells.dimension_value,
        spells.spell_number,
        spells.start_date,
        spells.end_date,
        ending_reasons.exit_reason
    from spells
    left join ending_reasons
        on
            spells.subject_key = ending_reasons.subject_key
            and spells.dimension = ending_reasons.dimension
            and spells.dimension_value = ending_reasons.dimension_value
            and spells.spell_number = ending_reasons.spell_number

)

select * from final

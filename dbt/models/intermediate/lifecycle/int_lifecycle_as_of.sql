{#- The as-of date (截至日期) of every lifecycle model: `--vars '{as_of_date: 2026-06-30}'`
    reconstructs the state of that day; else the environment's CREDIT_AS_OF_DATE; else today
    in the county's time zone (macros/as_of/as_of_date.sql). -#}

with

parameters as (

    select {{ as_of_date_expression() }} as as_of_date

),

final as (

    -- A row is known on the as-of date once the night of that date has landed it
    -- (macros/as_of/known.sql).
    select as_of_date
    from parameters

)

select * from final

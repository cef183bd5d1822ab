{#- 核查措施 Every measure credit_check_measures names is one of its source's seed (measures for
    dishonesty, supervision_measures for grade): a misspelt code would never apply. Returns the
    rows naming no such measure. -#}

select
    checks.purpose_code,
    checks.measure_source,
    checks.measure_code
from {{ ref('credit_check_measures') }} as checks
where
    not exists (
        select 1
        from {{ ref('measures') }} as measures
        where
            checks.measure_source = 'dishonesty'
            and measures.measure_code = checks.measure_code
    )
    and not exists (
        select 1
        from {{ ref('supervision_measures') }} as measures
        where
            checks.measure_source = 'grade'
            and measures.measure_code = checks.measure_code
    )

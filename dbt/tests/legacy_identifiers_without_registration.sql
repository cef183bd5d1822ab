{{ config(severity='warn') }}
{#- Legacy identifiers (旧标识) that no registration links to a USCC: their records keep the old
    identifier as their subject key until the register sends the link (the next build maps
    them). A warning for the credit office to resolve with the registering department. -#}
select
    legacy_identifier,
    count(*) as record_versions
from {{ ref('fct_credit_records') }}
where legacy_identifier is not null and subject_key = legacy_identifier
group by legacy_identifier

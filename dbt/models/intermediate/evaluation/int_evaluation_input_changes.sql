{#- How the subjects' evaluation inputs changed since the evaluation was last built: one row per
    subject whose fingerprint (int_evaluation_fingerprints) differs from the one its rows were
    built from (intermediate.evaluated_inputs), a new subject's included, with tonight's
    fingerprint; inputs_md5 is null for a subject evaluated before that is a subject no more (a
    legacy identifier now linked to its USCC). Found once a night by one join of the two key sets
    (462,865 subjects each after five years at Jiangyin's size), for the pairs to evaluate
    (int_evaluation_targets), the rows to drop (prune_evaluations, both tables) and the state to
    store (store_evaluation_state), which applies these changes instead of rewriting every
    subject's fingerprint. -#}

{{ config(materialized='table') }}


select
    coalesce(fingerprints.subject_key, evaluated.subject_key) as subject_key,
    fingerprints.inputs_md5
from {{ ref('int_evaluation_fingerprints') }} as fingerprints
full join {{ source('evaluation_state', 'evaluated_inputs') }} as evaluated
    on fingerprints.subject_key = evaluated.subject_key
where fingerprints.inputs_md5 is distinct from evaluated.inputs_md5

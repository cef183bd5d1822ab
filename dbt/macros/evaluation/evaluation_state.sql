{#- The state of the incremental evaluation (models/intermediate/evaluation): what the stored
    grades were computed from. intermediate.evaluated_inputs holds, per subject, the fingerprint
    (int_evaluation_fingerprints) its rows in int_subject_grades were built from, and
    intermediate.evaluated_dates the evaluation dates they were built for (is_current: the as-of
    date the current grades, stored under 'infinity', hold for); a night re-evaluates every date
    of the subjects whose fingerprint changed, every subject on the dates not evaluated yet, and
    on the as-of date the subjects whose score can have moved since (int_evaluation_targets).
    intermediate.evaluation_stored_dates holds, per evaluation table, the dates it can hold rows
    for, written with its rows: the dates that left the window are found there, not in the table. -#}

{#- on-run-start: the state tables, empty until int_subject_grades is first built. -#}
{% macro create_evaluation_state() %}
    create schema if not exists intermediate;
    create table if not exists intermediate.evaluated_inputs (
        subject_key text primary key,
        inputs_md5 text not null
    );
    create table if not exists intermediate.evaluated_dates (
        evaluation_date date primary key,
        is_current boolean not null
    );
    create table if not exists intermediate.evaluation_stored_dates (
        relation_name text not null,
        evaluation_date date not null,
        primary key (relation_name, evaluation_date)
    );
{% endmacro %}


{#- Post-hook of int_subject_grades (in its transaction): the fingerprints and dates just
    evaluated; the fingerprints by tonight's changes (int_evaluation_input_changes), which leave
    them equal to int_evaluation_fingerprints. -#}
{% macro store_evaluation_state() %}
    delete from intermediate.evaluated_inputs
    where subject_key in (select subject_key from {{ ref('int_evaluation_input_changes') }});
    insert into intermediate.evaluated_inputs (subject_key, inputs_md5)
    select subject_key, inputs_md5 from {{ ref('int_evaluation_input_changes') }}
    where inputs_md5 is not null;
    truncate intermediate.evaluated_dates;
    insert into intermediate.evaluated_dates (evaluation_date, is_current)
    select evaluation_date, is_current from {{ ref('int_evaluation_dates') }};
    -- The evaluation views join the as-of date (one row): planned as one, not a thousand.
    analyze intermediate.evaluated_dates
{% endmacro %}


{#- Post-hook of the evaluation tables (in the model's transaction): the dates the table can now
    hold rows for, tonight's window (int_evaluation_dates): the pre-hook dropped the others. -#}
{% macro record_stored_dates() %}
    delete from intermediate.evaluation_stored_dates
    where relation_name = '{{ this.identifier }}';
    insert into intermediate.evaluation_stored_dates (relation_name, evaluation_date)
    select '{{ this.identifier }}', stored_date from {{ ref('int_evaluation_dates') }}
{% endmacro %}


{#- The distinct evaluation dates stored in `relation`, by its evaluation_date index (a loose
    index scan: one probe per date, not a scan of every row): for a table built before
    intermediate.evaluation_stored_dates was kept. After the window's dates were replaced, each
    probe walks the dead entries of the dates deleted (millions, seconds), until a vacuum. -#}
{% macro stored_evaluation_dates(relation) %}
    with recursive stored (evaluation_date) as (
        select min(evaluation_date) from {{ relation }}
        union all
        select (
            select min(later.evaluation_date)
            from {{ relation }} as later
            where later.evaluation_date > stored.evaluation_date
        )
        from stored
        where stored.evaluation_date is not null
    )
    select evaluation_date from stored where evaluation_date is not null
{% endmacro %}


{#- Pre-hook of the incremental evaluation tables (appended to, in the model's transaction): drop
    the dates that left the evaluation window, the subjects that are no longer subjects (a legacy
    identifier now linked to its USCC) and tonight's pairs (int_evaluation_targets): the dates
    evaluated for every subject by the evaluation_date index, the other pairs by their subjects'
    (subject_key, evaluation_date) index: every date of a subject whose inputs changed, the
    current row ('infinity') of one whose score can have moved since the last as-of date. A generic
    delete of tonight's pairs joined the whole table, most of a night's evaluation; a delete by
    a sub-query (`in (select ...)`) scanned it, the planner expecting a hundred keys: the dates
    are literals (a few values, each a share of the table the planner must see), the subjects
    an array, which their index is probed for. The subjects no more are found once for both
    tables (int_evaluation_input_changes). -#}
{% macro prune_evaluations() %}
    {%- if is_incremental() %}
    delete from {{ this }}
    where evaluation_date = any({{ whole_evaluation_dates().whole }});
    delete from {{ this }}
    where subject_key = any(array(
        select distinct subject_key from {{ ref('int_evaluation_targets') }}
        where not is_whole_date and not is_current
    ));
    delete from {{ this }}
    where evaluation_date = 'infinity' and subject_key = any(array(
        select subject_key from {{ ref('int_evaluation_targets') }}
        where not is_whole_date and is_current
    ));
    delete from {{ this }}
    where evaluation_date = any({{ expired_evaluation_dates(this) }});
    delete from {{ this }}
    where subject_key = any(array(
        select subject_key from {{ ref('int_evaluation_input_changes') }}
        where inputs_md5 is null
    ))
    {%- endif %}
{% endmacro %}


{#- The dates stored in `relation` that left the evaluation window, as a SQL date array: the dates
    recorded for it (intermediate.evaluation_stored_dates) or, before any is, found in it. -#}
{% macro expired_evaluation_dates(relation) %}
    {%- set dates = [] %}
    {%- if execute %}
        {%- set recorded = "select evaluation_date from intermediate.evaluation_stored_dates"
            ~ " where relation_name = '" ~ relation.identifier ~ "'" %}
        {%- if run_query("select exists (" ~ recorded ~ ")").columns[0].values()[0] %}
            {%- set stored = recorded %}
        {%- else %}
            {%- set stored = stored_evaluation_dates(relation) %}
        {%- endif %}
        {%- set rows = run_query(
            "select evaluation_date::text from (" ~ stored
            ~ " except select stored_date from " ~ ref('int_evaluation_dates')
            ~ ") as expired"
        ) %}
        {%- for row in rows %}
            {%- do dates.append("'" ~ row[0] ~ "'") %}
        {%- endfor %}
    {%- endif %}
    {{- return("array[" ~ dates | join(', ') ~ "]::date[]") }}
{% endmacro %}


{#- The dates int_evaluation_targets evaluates for every subject tonight (is_whole_date) and the
    window dates before them, as stored (int_evaluation_dates.stored_date), as SQL date arrays {'whole': ..., 'previous': ...}: literals, so
    the marts read those dates' rows by their evaluation_date index, not by a join of the whole
    table to tonight's pairs. -#}
{% macro whole_evaluation_dates() %}
    {%- set whole, previous = [], [] %}
    {#- Before the first build (`dbt docs generate` on a new warehouse) there is no pair. #}
    {%- if execute and load_relation(ref('int_evaluation_targets')) is not none %}
        {%- set rows = run_query(
            "select dates.stored_date::text, dates.previous_date::text from ("
            ~ " select stored_date, lag(stored_date) over (order by stored_date)"
            ~ " as previous_date from " ~ ref('int_evaluation_dates') ~ ") as dates"
            ~ " where dates.stored_date in (select evaluation_date from "
            ~ ref('int_evaluation_targets') ~ " where is_whole_date)"
        ) %}
        {%- for row in rows %}
            {%- do whole.append("'" ~ row[0] ~ "'") %}
            {%- if row[1] is not none %}
                {%- do previous.append("'" ~ row[1] ~ "'") %}
            {%- endif %}
        {%- endfor %}
    {%- endif %}
    {{- return({
        'whole': "array[" ~ whole | join(', ') ~ "]::date[]",
        'previous': "array[" ~ previous | join(', ') ~ "]::date[]",
    }) }}
{% endmacro %}


{#- The rows of an evaluation mart for tonight's pairs (int_evaluation_targets): the dates
    evaluated for every subject by the evaluation_date index, the other pairs by the
    (subject_key, evaluation_date) index, in two look-ups: the current row ('infinity') of the
    subjects whose score can have moved, and the other dates of the subjects whose inputs changed
    (evaluated on every date, so their subjects by those dates are the pairs). A join of the
    table to tonight's pairs was planned as a scan of the whole table (8 million rows after five
    years at Jiangyin's size, 1.8 s). -#}
{% macro evaluated_tonight(relation) %}
{%- set dates = whole_evaluation_dates() %}
    select evaluated.*
    from {{ relation }} as evaluated
    where evaluated.evaluation_date = any({{ dates.whole }})
    union all
    select evaluated.*
    from {{ relation }} as evaluated
    where
        evaluated.evaluation_date = 'infinity'
        and evaluated.subject_key = any(array(
            select targets.subject_key from {{ ref('int_evaluation_targets') }} as targets
            where targets.is_current and not targets.is_whole_date
        ))
    union all
    select evaluated.*
    from {{ relation }} as evaluated
    where
        evaluated.subject_key = any(array(
            select distinct targets.subject_key from {{ ref('int_evaluation_targets') }} as targets
            where not targets.is_current and not targets.is_whole_date
        ))
        and evaluated.evaluation_date = any(array(
            select distinct targets.evaluation_date
            from {{ ref('int_evaluation_targets') }} as targets
            where not targets.is_current and not targets.is_whole_date
        ))
{% endmacro %}

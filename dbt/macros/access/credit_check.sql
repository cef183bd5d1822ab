{#- marts.credit_check(usccs, purpose, as_of): the credit check (信用核查) of a list of subjects
    before an award, a subsidy, an approval or a procurement (rules.credit_check_purposes), as
    of a day no later than the warehouse's as-of date. One row per requested code, in the
    list's order (duplicates kept): the code as sent and normalised (upper case, no spaces),
    what is wrong with it if it names no subject (length, characters or the GB 32100 check
    digit: weights 3^i mod 31), whether the warehouse knows the subject, its grade on the day
    (the latest evaluation on or before it), the measures bearing on the purpose
    (rules.credit_check_measures) and the result they give (rules.credit_check_results: the
    strictest; pass when none applies), and the records behind them as JSON: every dishonesty
    record in force on the day (decided on or before it and not exited by it, as the lifecycle
    marts know it now) carrying such a measure, and the grade evaluation when one of its
    measures applies. Each call adds one row to audit.access_log. Runs as its owner
    (credit_transformer), callable by the office and the analysts; installed by on-run-start,
    naming the tables it reads by text, as marts.lookup_dossier does. -#}
{% macro install_credit_check() %}
    create or replace function marts.credit_check(usccs text [], purpose text, as_of date)
    returns table (
        list_position integer,
        requested_code text,
        uscc text,
        code_problem text,
        found boolean,
        subject_name text,
        grade text,
        grade_date date,
        result_code text,
        result_zh text,
        measure_codes text,
        measures_zh text,
        records jsonb
    )
    language plpgsql volatile security definer
    set search_path = pg_catalog, marts as $$
    #variable_conflict use_column
    declare
        built_as_of date;
        uscc_alphabet constant text := '0123456789ABCDEFGHJKLMNPQRTUWXY';
    begin
        if not exists (
            select from rules.credit_check_purposes as p where p.purpose_code = purpose
        ) then
            raise exception 'unknown purpose %: one of %', purpose, (
                select string_agg(p.purpose_code, ', ' order by p.purpose_code)
                from rules.credit_check_purposes as p
            );
        end if;
        select a.as_of_date into built_as_of from intermediate.int_lifecycle_as_of as a;
        if as_of is null or as_of > built_as_of then
            raise exception 'as-of date % is not on or before the warehouse''s as-of date %',
                as_of, built_as_of;
        end if;
        insert into audit.access_log (login, action, target, detail)
        values (session_user, 'credit_check', purpose, jsonb_build_object(
            'as_of', as_of, 'code_count', cardinality(usccs), 'codes', to_jsonb(usccs)
        ));
        return query
        with
        requested as (
            select
                r.list_position::integer as list_position,
                r.code as requested_code,
                upper(regexp_replace(coalesce(r.code, ''), '\s', '', 'g')) as uscc
            from unnest(usccs) with ordinality as r (code, list_position)
        ),
        subjects as (
            select distinct on (s.subject_key) s.subject_key, s.subject_name
            from marts.dim_subjects as s
            where s.subject_key in (select requested.uscc from requested)
            order by s.subject_key
        ),
        grades as (
            select subjects.subject_key, g.grade, g.evaluation_date, g.score
            from subjects
            cross join lateral (
                select evaluations.grade, evaluations.evaluation_date, evaluations.score
                from marts.fct_subject_grades as evaluations
                where
                    evaluations.subject_key = subjects.subject_key
                    and evaluations.evaluation_date <= as_of
                order by evaluations.evaluation_date desc
                limit 1
            ) as g
        ),
        purpose_measures as (
            select m.measure_source, m.measure_code, m.result_code, r.verdict_rank
            from rules.credit_check_measures as m
            inner join rules.credit_check_results as r on m.result_code = r.result_code
            where m.purpose_code = purpose
        ),
        in_force as (
            select d.*
            from marts.fct_dishonesty_records as d
            where
                d.subject_key in (select subjects.subject_key from subjects)
                and d.decision_date <= as_of
                and (d.exit_date is null or d.exit_date > as_of)
        ),
        record_measures as (
            select in_force.subject_key, in_force.decision_doc_no, pm.measure_code
            from in_force
            cross join lateral unnest(string_to_array(in_force.applicable_measures, ';'))
                as carried (measure_code)
            inner join purpose_measures as pm
                on pm.measure_source = 'dishonesty' and carried.measure_code = pm.measure_code
        ),
        grade_measures as (
            select distinct grades.subject_key, pm.measure_code
            from grades
            inner join intermediate.int_subject_domains as domains
                on grades.subject_key = domains.subject_key
            inner join intermediate.int_domain_measures as dm
                on domains.industry_section = dm.industry_section and grades.grade = dm.grade
            inner join purpose_measures as pm
                on pm.measure_source = 'grade' and dm.measure_code = pm.measure_code
        ),
        measure_names as (
            select distinct on (names.measure_source, names.measure_code)
                names.measure_source, names.measure_code, names.measure_zh
            from (
                select 'dishonesty' as measure_source, m.measure_code, m.measure_zh
                from rules.measures as m
                union all
                select 'grade', m.measure_code, m.measure_zh
                from rules.supervision_measures as m
            ) as names
            order by names.measure_source, names.measure_code, names.measure_zh
        ),
        applied as (
            select distinct subject_key, 'dishonesty' as measure_source, measure_code
            from record_measures
            union
            select subject_key, 'grade', measure_code from grade_measures
        ),
        verdicts as (
            select
                applied.subject_key,
                (array_agg(pm.result_code order by pm.verdict_rank desc))[1] as result_code,
                string_agg(
                    applied.measure_code, ';' order by pm.verdict_rank desc, applied.measure_code
                ) as measure_codes,
                string_agg(
                    names.measure_zh, '；' order by pm.verdict_rank desc, applied.measure_code
                ) as measures_zh
            from applied
            inner join purpose_measures as pm
                on applied.measure_source = pm.measure_source
                and applied.measure_code = pm.measure_code
            inner join measure_names as names
                on applied.measure_source = names.measure_source
                and applied.measure_code = names.measure_code
            group by applied.subject_key
        ),
        dishonesty_records as (
            select
                in_force.subject_key,
                jsonb_build_object(
                    'record_kind', 'dishonesty',
                    'dept_code', in_force.dept_code,
                    'dept_name', departments.name_zh,
                    'document_no', in_force.decision_doc_no,
                    'behaviour', in_force.behaviour,
                    'severity_code', in_force.severity_code,
                    'severity_zh', severities.severity_zh,
                    'decision_date', in_force.decision_date,
                    'publicity_end', in_force.publicity_end,
                    'exit_date', in_force.exit_date,
                    'record_status_zh', in_force.record_status_zh,
                    'measure_codes', carried.measure_codes,
                    'measures_zh', carried.measures_zh
                ) as record,
                in_force.decision_date as record_date
            from in_force
            inner join (
                select
                    rm.decision_doc_no,
                    string_agg(rm.measure_code, ';' order by rm.measure_code) as measure_codes,
                    string_agg(names.measure_zh, '；' order by rm.measure_code) as measures_zh
                from record_measures as rm
                inner join measure_names as names
                    on names.measure_source = 'dishonesty' and rm.measure_code = names.measure_code
                group by rm.decision_doc_no
            ) as carried on in_force.decision_doc_no = carried.decision_doc_no
            left join reference.departments as departments
                on in_force.dept_code = departments.dept_code
            left join rules.publicity_rules as severities
                on in_force.severity_code = severities.severity_code
        ),
        grade_records as (
            select
                grades.subject_key,
                jsonb_build_object(
                    'record_kind', 'grade',
                    'grade', grades.grade,
                    'score', grades.score,
                    'evaluation_date', grades.evaluation_date,
                    'measure_codes', carried.measure_codes,
                    'measures_zh', carried.measures_zh
                ) as record,
                grades.evaluation_date as record_date
            from grades
            inner join (
                select
                    gm.subject_key,
                    string_agg(gm.measure_code, ';' order by gm.measure_code) as measure_codes,
                    string_agg(names.measure_zh, '；' order by gm.measure_code) as measures_zh
                from grade_measures as gm
                inner join measure_names as names
                    on names.measure_source = 'grade' and gm.measure_code = names.measure_code
                group by gm.subject_key
            ) as carried on grades.subject_key = carried.subject_key
        ),
        subject_records as (
            select
                behind.subject_key,
                jsonb_agg(behind.record order by behind.record_date desc, behind.record::text)
                    as records
            from (
                select * from dishonesty_records
                union all
                select * from grade_records
            ) as behind
            group by behind.subject_key
        ),
        located as (
            -- The code's problem only for a code of no subject (a found one passed staging's
            -- checks): the check digit costs a sub-query a code.
            select
                requested.*,
                subjects.subject_key is not null as found,
                subjects.subject_name,
                case
                    when subjects.subject_key is not null then null
                    when requested.uscc = '' then 'missing'
                    when length(requested.uscc) <> 18 then 'length'
                    when requested.uscc !~ '^[0-9A-HJ-NP-RTUW-Y]{2}[0-9]{6}[0-9A-HJ-NP-RTUW-Y]{10}$'
                        then 'format'
                    when substr(requested.uscc, 18, 1) <> substr(uscc_alphabet, (31 - (
                        select sum(
                            (strpos(uscc_alphabet, substr(requested.uscc, i, 1)) - 1)
                            * (power(3, i - 1)::bigint % 31)
                        )::integer % 31
                        from generate_series(1, 17) as i
                    )) % 31 + 1, 1) then 'check_digit'
                end as code_problem
            from requested
            left join subjects on requested.uscc = subjects.subject_key
        ),
        answered as (
            select
                located.*,
                grades.grade,
                grades.evaluation_date as grade_date,
                case
                    when located.found then coalesce(verdicts.result_code, 'pass')
                    when located.code_problem is not null then 'invalid'
                    else 'not_found'
                end as result_code,
                verdicts.measure_codes,
                verdicts.measures_zh,
                coalesce(subject_records.records, '[]'::jsonb) as records
            from located
            left join grades on located.uscc = grades.subject_key
            left join verdicts on located.uscc = verdicts.subject_key
            left join subject_records on located.uscc = subject_records.subject_key
        )
        select
            answered.list_position,
            answered.requested_code,
            answered.uscc,
            answered.code_problem,
            answered.found,
            answered.subject_name,
            answered.grade,
            answered.grade_date,
            answered.result_code,
            results.result_zh,
            answered.measure_codes,
            answered.measures_zh,
            answered.records
        from answered
        inner join rules.credit_check_results as results
            on answered.result_code = results.result_code
        order by answered.list_position;
    end $$;
    revoke all on function marts.credit_check(text [], text, date) from public;
    grant execute on function marts.credit_check(text [], text, date)
    to credit_office, credit_analyst;
{% endmacro %}

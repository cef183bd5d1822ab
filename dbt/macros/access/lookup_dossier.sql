{#- marts.lookup_dossier(subject_key): a subject's dossier (信用档案) as the credit office and the
    analysts look it up, logged. The subject is named by its key (an organisation's USCC, a
    person's 'P:' and hashed ID); the answer is one JSON document, the dossiers row and the
    subject's credit records newest first (null when the warehouse has no such subject), and
    every call adds a row to audit.access_log: who (the session's login), when, which subject,
    whether it was found. The function runs as its owner (credit_transformer, which may read
    the marts and add to the log); only the office and the analysts may call it. Installed by
    on-run-start: the marts it reads are rebuilt each night, so it names them by text. -#}
{% macro install_lookup_dossier() %}
    create or replace function marts.lookup_dossier(subject text) returns jsonb
    language plpgsql volatile security definer
    set search_path = pg_catalog, marts as $$
    declare
        dossier jsonb;
    begin
        select to_jsonb(d) into dossier from marts.dossiers as d where d.subject_key = subject;
        if dossier is not null then
            dossier := jsonb_build_object(
                'dossier', dossier,
                'records', coalesce((
                    select jsonb_agg(to_jsonb(r) order by r.event_date desc, r.raw_row_id desc)
                    from marts.fct_credit_records as r
                    where r.subject_key = subject
                ), '[]'::jsonb)
            );
        end if;
        insert into audit.access_log (login, action, target, detail)
        values (session_user, 'dossier_lookup', subject,
                jsonb_build_object('found', dossier is not null));
        return dossier;
    end $$;
    revoke all on function marts.lookup_dossier(text) from public;
    grant execute on function marts.lookup_dossier(text) to credit_office, credit_analyst;
{% endmacro %}

{#- The SQL functions staging uses to keep resident IDs (居民身份证号码) out of every layer but raw,
    installed by the project's on-run-start hook:

    * audit.hash_identifier(text): HMAC-SHA256 (hex) of the normalised identifier with the key
      CREDIT_ID_HASH_KEY, the same value as credit.identifiers.hash_identifier.  pgcrypto is not
      available everywhere (not on the embedded server), so HMAC (RFC 2104) is computed with the
      built-in sha256(bytea) from the key's inner and outer pads.  credit.warehouse stores the
      pads in audit.identifier_hash_key (only the owner can read it) before dbt runs, so the key
      never appears in SQL text or dbt's logs.  The function runs as its owner (security definer)
      and only the owner may call it: with the function anyone could hash candidate IDs and
      match them against subject keys.
    * audit.mask_identifier(text): the display form, first and last four characters
      (credit.identifiers.mask_resident_id).
    * audit.mask_name(text): a natural person's name (自然人姓名) as it leaves raw, its first
      character (the surname) and a star for each other one, at least one: 张三 -> 张*. -#}
{% macro install_identifier_functions() %}
    select pg_advisory_lock(hashtext('credit.dbt.identifier_functions'));

    create or replace function audit.hash_identifier(value text) returns text
    language plpgsql stable strict parallel safe security definer
    set search_path = pg_catalog, audit as $$
    declare
        normal text := audit.normalise_identifier(value);
        pads record;
    begin
        if normal = '' then
            return null;
        end if;
        select inner_pad, outer_pad into pads from audit.identifier_hash_key;
        if not found then
            raise exception 'audit.identifier_hash_key is empty: run credit.warehouse.ensure_warehouse()';
        end if;
        return encode(
            sha256(pads.outer_pad || sha256(pads.inner_pad || convert_to(normal, 'UTF8'))), 'hex');
    end $$;
    revoke all on function audit.hash_identifier(text) from public;

    create or replace function audit.mask_identifier(value text) returns text
    language plpgsql immutable strict parallel safe as $$
    declare
        normal text := audit.normalise_identifier(value);
    begin
        if normal = '' then
            return null;
        end if;
        if length(normal) <= 8 then
            return repeat('*', length(normal));
        end if;
        return left(normal, 4) || repeat('*', length(normal) - 8) || right(normal, 4);
    end $$;

    create or replace function audit.mask_name(value text) returns text
    language sql immutable strict parallel safe as $$
        select case
            when btrim(value) = '' then null
            else left(btrim(value), 1) || repeat('*', greatest(char_length(btrim(value)) - 1, 1))
        end
    $$;

    select pg_advisory_unlock(hashtext('credit.dbt.identifier_functions'));
{% endmacro %}

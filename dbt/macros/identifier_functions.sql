{#- The SQL functions staging uses to keep resident IDs (居民身份证号码) out of every layer but raw,
    installed by the project's on-run-start hook:

    * audit.hash_identifier(text): HMAC-SHA256 (hex) of the normalised identifier with the key
      CREDIT_ID_HASH_KEY, the same value as credit.identifiers.hash_identifier.  pgcrypto is not
      available everywhere (not on the embedded server), so HMAC (RFC 2104) is written out with
      the built-in sha256(bytea).  The key is kept as its inner and outer pads in a table only the
      owner can read; the function runs as its owner (security definer), so analysts can query
      staging without ever seeing the key.
    * audit.mask_identifier(text): the display form, first and last four characters
      (credit.identifiers.mask_resident_id).

    The default key is credit.identifiers.DEVELOPMENT_HASH_KEY: public, for development only. -#}
{% macro install_identifier_functions() %}
    {%- set key = env_var('CREDIT_ID_HASH_KEY', 'development-only-key-do-not-use-in-production') -%}
    {%- if not key %}{% set key = 'development-only-key-do-not-use-in-production' %}{% endif -%}
    select pg_advisory_lock(hashtext('credit.dbt.identifier_functions'));

    create schema if not exists audit;

    create table if not exists audit.identifier_hash_key (
        singleton boolean primary key default true check (singleton),
        inner_pad bytea not null,
        outer_pad bytea not null
    );
    revoke all on audit.identifier_hash_key from public;

    create or replace function audit.hmac_sha256(key bytea, message bytea) returns bytea
    language plpgsql immutable strict parallel safe as $$
    declare
        block bytea;
        inner_pad bytea := '';
        outer_pad bytea := '';
    begin
        block := case when length(key) > 64 then sha256(key) else key end;
        block := block || decode(repeat('00', 64 - length(block)), 'hex');
        for i in 0..63 loop
            inner_pad := inner_pad || set_byte('\x00'::bytea, 0, get_byte(block, i) # 54);
            outer_pad := outer_pad || set_byte('\x00'::bytea, 0, get_byte(block, i) # 92);
        end loop;
        return sha256(outer_pad || sha256(inner_pad || message));
    end $$;

    {#- The pads are the key: derive them once here, so hashing a row costs two sha256 calls. -#}
    insert into audit.identifier_hash_key (singleton, inner_pad, outer_pad)
    select
        true,
        string_agg(set_byte('\x00'::bytea, 0, get_byte(block, i) # 54), '' order by i),
        string_agg(set_byte('\x00'::bytea, 0, get_byte(block, i) # 92), '' order by i)
    from
        (
            select
                padded || decode(repeat('00', 64 - length(padded)), 'hex') as block
            from
                (
                    select
                        case when length(raw_key) > 64 then sha256(raw_key) else raw_key end
                            as padded
                    from (select convert_to('{{ key | replace("'", "''") }}', 'UTF8') as raw_key) as k
                ) as p
        ) as b
        cross join generate_series(0, 63) as i
    on conflict (singleton) do update
        set inner_pad = excluded.inner_pad, outer_pad = excluded.outer_pad;

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
        return encode(
            sha256(pads.outer_pad || sha256(pads.inner_pad || convert_to(normal, 'UTF8'))), 'hex');
    end $$;

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

    select pg_advisory_unlock(hashtext('credit.dbt.identifier_functions'));
{% endmacro %}

"""The control schema `plinth`, applied in order at start, once per version.

A new migration is appended to MIGRATIONS; applied ones are never edited.
Core processes starting together serialize on an advisory lock.
"""

from __future__ import annotations

import logging

from psycopg import AsyncConnection, sql

log = logging.getLogger("plinth.db")

LOCK_KEY = 0x706C696E7468  # "plinth"

MIGRATIONS: list[str] = [
    # 1: tenants, schema catalogue, API keys
    """
    CREATE FUNCTION plinth.uuid7() RETURNS uuid LANGUAGE sql VOLATILE AS $$
      -- A time-ordered UUIDv7: 48-bit Unix milliseconds, then random bits.
      SELECT encode(
        set_bit(set_bit(
          overlay(uuid_send(gen_random_uuid())
                  PLACING substring(
                    int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
                  FROM 1 FOR 6),
          52, 1), 53, 1), 'hex')::uuid
    $$;

    CREATE TABLE plinth.projects (
      id text PRIMARY KEY DEFAULT plinth.uuid7()::text,
      name text NOT NULL UNIQUE,
      created_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE plinth.spaces (
      id text PRIMARY KEY DEFAULT plinth.uuid7()::text,
      project_id text NOT NULL REFERENCES plinth.projects ON DELETE CASCADE,
      name text NOT NULL,
      schema_name text NOT NULL UNIQUE,
      schema_version bigint NOT NULL DEFAULT 0,
      created_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (project_id, name)
    );

    CREATE TABLE plinth.collections (
      id text PRIMARY KEY DEFAULT plinth.uuid7()::text,
      space_id text NOT NULL REFERENCES plinth.spaces ON DELETE CASCADE,
      name text NOT NULL,
      mode text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (space_id, name)
    );

    CREATE TABLE plinth.fields (
      collection_id text NOT NULL REFERENCES plinth.collections ON DELETE CASCADE,
      name text NOT NULL,
      position int NOT NULL,
      spec jsonb NOT NULL,
      PRIMARY KEY (collection_id, name)
    );

    CREATE TABLE plinth.api_keys (
      id text PRIMARY KEY DEFAULT plinth.uuid7()::text,
      project_id text NOT NULL REFERENCES plinth.projects ON DELETE CASCADE,
      space_id text NOT NULL REFERENCES plinth.spaces ON DELETE CASCADE,
      name text NOT NULL,
      role text NOT NULL,
      key_hash bytea NOT NULL UNIQUE,
      created_at timestamptz NOT NULL DEFAULT now(),
      revoked_at timestamptz
    );

    CREATE TABLE plinth.migrations (
      id bigserial PRIMARY KEY,
      space_id text NOT NULL REFERENCES plinth.spaces ON DELETE CASCADE,
      description text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    );
    """,
    # 2: queue jobs of every space, leased with FOR UPDATE SKIP LOCKED (core/queue)
    """
    -- space_id '_plinth' holds core's own jobs (no space row); a space's jobs go with it.
    CREATE TABLE plinth.jobs (
      id text PRIMARY KEY DEFAULT plinth.uuid7()::text,
      space_id text NOT NULL,
      topic text NOT NULL,
      payload jsonb,
      status text NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'leased', 'done', 'failed', 'dead')),
      attempts int NOT NULL DEFAULT 0,
      max_attempts int NOT NULL,
      -- When the job is next leasable: its delay, its retry, or its lease's expiry.
      run_at timestamptz NOT NULL DEFAULT now(),
      lease_id uuid,
      last_error text,
      result jsonb,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX jobs_leasable ON plinth.jobs (space_id, topic, run_at)
      WHERE status IN ('queued', 'leased', 'failed');
    CREATE INDEX jobs_dead ON plinth.jobs (space_id, topic, id) WHERE status = 'dead';
    CREATE INDEX jobs_topic_status ON plinth.jobs (space_id, topic, status);
    CREATE FUNCTION plinth.delete_space_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN DELETE FROM plinth.jobs WHERE space_id = OLD.id; RETURN OLD; END
    $$;
    CREATE TRIGGER spaces_delete_jobs AFTER DELETE ON plinth.spaces
      FOR EACH ROW EXECUTE FUNCTION plinth.delete_space_jobs();
    """,
    # 3: key-value entries per space (core/kv); keys sort by code point for prefix scans
    """
    CREATE TABLE plinth.kv (
      space_id text NOT NULL REFERENCES plinth.spaces ON DELETE CASCADE,
      key text COLLATE "C" NOT NULL,
      value jsonb NOT NULL,
      expires_at timestamptz,
      updated_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (space_id, key)
    );
    CREATE INDEX kv_expires_at ON plinth.kv (expires_at) WHERE expires_at IS NOT NULL;
    """,
    # 4: named edges in spaces made before them (new ones get these from core/edges/ddl.py);
    # idempotent, so objects a space already has are left as they are
    """
    DO $migration$
    DECLARE
      s record;
      c record;
    BEGIN
      FOR s IN SELECT sp.schema_name FROM plinth.spaces sp
               JOIN pg_namespace n ON n.nspname = sp.schema_name LOOP
        EXECUTE format(
          'CREATE TABLE IF NOT EXISTS %I."$edges" ('
          ' rel text NOT NULL,'
          ' source_collection text NOT NULL, source_id text NOT NULL,'
          ' target_collection text NOT NULL, target_id text NOT NULL,'
          ' properties jsonb NOT NULL DEFAULT ''{}'','
          ' created_at timestamptz NOT NULL DEFAULT now(),'
          ' PRIMARY KEY (source_collection, source_id, rel, target_collection, target_id))',
          s.schema_name);
        EXECUTE format(
          'CREATE INDEX IF NOT EXISTS "$edges_in"'
          ' ON %I."$edges" (target_collection, target_id, rel)',
          s.schema_name);
        EXECUTE format(
          'CREATE OR REPLACE FUNCTION %I."$edges_drop"() RETURNS trigger LANGUAGE plpgsql'
          ' SET search_path = %I AS $body$ BEGIN'
          '  DELETE FROM "$edges"'
          '   WHERE (source_collection = TG_TABLE_NAME AND source_id = OLD.id)'
          '      OR (target_collection = TG_TABLE_NAME AND target_id = OLD.id);'
          '  RETURN NULL; END $body$',
          s.schema_name, s.schema_name);
      END LOOP;
      FOR c IN SELECT sp.schema_name, co.name FROM plinth.collections co
               JOIN plinth.spaces sp ON sp.id = co.space_id
               JOIN pg_namespace n ON n.nspname = sp.schema_name LOOP
        EXECUTE format(
          'CREATE OR REPLACE TRIGGER edges_drop AFTER UPDATE OF deleted_at ON %I.%I FOR EACH ROW'
          ' WHEN (OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL)'
          ' EXECUTE FUNCTION %I."$edges_drop"()',
          c.schema_name, c.name, c.schema_name);
      END LOOP;
    END
    $migration$;
    """,
    # files: metadata of stored objects (the bytes are the storage backend's)
    """
    CREATE TABLE plinth.files (
      space_id text NOT NULL REFERENCES plinth.spaces ON DELETE CASCADE,
      id text NOT NULL DEFAULT plinth.uuid7()::text,
      file_name text NOT NULL,
      mime_type text NOT NULL,
      detected_mime_type text,
      size_bytes bigint NOT NULL,
      collection text,
      record_id text,
      field text,
      created_at timestamptz NOT NULL DEFAULT now(),
      confirmed_at timestamptz,
      PRIMARY KEY (space_id, id)
    );
    CREATE INDEX files_by_collection ON plinth.files (space_id, collection, id);
    CREATE INDEX files_unconfirmed ON plinth.files (created_at) WHERE confirmed_at IS NULL;
    """,
    # 6: users, their refresh tokens, and API keys kept with a keyed hash (core/auth)
    """
    CREATE TABLE plinth.users (
      id text PRIMARY KEY DEFAULT plinth.uuid7()::text,
      project_id text NOT NULL REFERENCES plinth.projects ON DELETE CASCADE,
      email text NOT NULL,
      password_hash text NOT NULL,
      role text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE UNIQUE INDEX users_email ON plinth.users (project_id, lower(email));

    -- A family is one login's chain of rotations; a spent token used again ends it.
    CREATE TABLE plinth.refresh_tokens (
      id text PRIMARY KEY DEFAULT plinth.uuid7()::text,
      user_id text NOT NULL REFERENCES plinth.users ON DELETE CASCADE,
      family_id text NOT NULL,
      token_hash bytea NOT NULL UNIQUE,
      created_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz NOT NULL,
      spent_at timestamptz,
      revoked_at timestamptz
    );
    CREATE INDEX refresh_tokens_family ON plinth.refresh_tokens (family_id);
    CREATE INDEX refresh_tokens_user ON plinth.refresh_tokens (user_id);

    -- Keys made before keyed hashing keep their plain SHA-256 until first used.
    ALTER TABLE plinth.api_keys
      ADD COLUMN hash_scheme text NOT NULL DEFAULT 'sha256',
      ADD COLUMN last_used_at timestamptz;
    ALTER TABLE plinth.api_keys ALTER COLUMN hash_scheme SET DEFAULT 'hmac';
    """,
]


async def migrate(conn: AsyncConnection) -> None:
    """Bring the control schema up to date inside one transaction."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
        await conn.execute("CREATE SCHEMA IF NOT EXISTS plinth")
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS plinth.control_migrations ("
            " version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        cur = await conn.execute("SELECT coalesce(max(version), 0) FROM plinth.control_migrations")
        (current,) = await cur.fetchone()
        for version, statement in enumerate(MIGRATIONS, start=1):
            if version <= current:
                continue
            await conn.execute(sql.SQL(statement))  # trusted constant DDL
            await conn.execute(
                "INSERT INTO plinth.control_migrations (version) VALUES (%s)", [version]
            )
            log.info("control schema migrated to version %d", version)

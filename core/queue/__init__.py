"""The job queue: a Postgres table leased with FOR UPDATE SKIP LOCKED, woken by NOTIFY."""

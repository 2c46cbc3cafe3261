-- migration_tables: the tables where migration tools record what ran are
-- preserved by reset_register_schema without being named (its result
-- says so), and one registered for deletion blocks the plan unless the
-- registration says force => true.
SELECT test_purge_settle();
-- a reset's report, its id masked (the tests before this one decide it);
-- its NOTICEs, the same lines, are left out where it runs
CREATE FUNCTION pg_temp.reset_report(token text DEFAULT NULL) RETURNS SETOF text LANGUAGE sql AS $$
    SELECT regexp_replace(line, 'as reset [0-9]+ in', 'as reset <id> in')
    FROM regexp_split_to_table(reset_execute('RESET-EVERYTHING', token), E'\n') AS line
$$;
DELETE FROM reset_system.registered_tables;
DELETE FROM reset_system.rebuild_steps;

CREATE SCHEMA mig;
CREATE TABLE mig.django_migrations (id serial, app text, name text);
CREATE TABLE mig.schema_migrations (version text);
CREATE TABLE mig.ar_internal_metadata (key text, value text);
CREATE TABLE mig.alembic_version (version_num text);
CREATE TABLE mig.flyway_schema_history (installed_rank int, version text);
CREATE TABLE mig.databasechangelog (id text);
CREATE TABLE mig.databasechangeloglock (id int);
CREATE TABLE mig.knex_migrations (id serial, name text, batch int, migration_time timestamptz);
CREATE TABLE mig.knex_migrations_lock (index serial, is_locked int);
CREATE TABLE mig._prisma_migrations (id text, checksum text);
CREATE TABLE mig."SequelizeMeta" (name text);
CREATE TABLE mig."__EFMigrationsHistory" ("MigrationId" text, "ProductVersion" text);
CREATE TABLE mig.goose_db_version (id serial, version_id bigint, is_applied boolean);
CREATE TABLE mig.doctrine_migration_versions (version text, executed_at timestamp);
CREATE TABLE mig._sqlx_migrations (version bigint, description text);
CREATE TABLE mig.__diesel_schema_migrations (version text, run_on timestamp);
CREATE TABLE mig.refinery_schema_history (version int, name text);
CREATE TABLE mig.orders (id serial, total int);
INSERT INTO mig.django_migrations (app, name) VALUES ('auth', '0001_initial');
INSERT INTO mig.orders (total) VALUES (10), (20);
CREATE SCHEMA laravel;
CREATE TABLE laravel.migrations (id serial, migration varchar(255), batch int);
CREATE SCHEMA typeorm;
CREATE TABLE typeorm.migrations (id serial, "timestamp" bigint, name varchar);
-- a table of the application that happens to be called migrations
CREATE SCHEMA moves;
CREATE TABLE moves.migrations (id serial, animal text, route text, batch int);

SELECT * FROM reset_register_schema('mig');
SELECT * FROM reset_register_schema('laravel');
SELECT * FROM reset_register_schema('typeorm');
SELECT * FROM reset_register_schema('moves');
SELECT line FROM test_plan() WHERE line ~ '^Will DELETE|^Will PRESERVE|^Blockers';

-- registered for deletion on purpose: a warning now, a blocker in every plan
SELECT reset_register_table('mig.django_migrations', 'delete', 'migration');
SELECT * FROM test_plan() WHERE line ~ '^Blockers|^  - |^    Fix';
SELECT test_error_full('SELECT reset_execute(''RESET-EVERYTHING'')');
-- each fix works
SELECT f AS keep FROM reset_plan_json() p, jsonb_array_elements(p->'blocker_details') b,
     jsonb_array_elements_text(b->'fixes') f WHERE f ~ 'preserve' \gset
SELECT f AS force FROM reset_plan_json() p, jsonb_array_elements(p->'blocker_details') b,
     jsonb_array_elements_text(b->'fixes') f WHERE f ~ 'force' \gset
BEGIN;
:keep
SELECT line FROM test_plan() WHERE line ~ '^Blockers';
ROLLBACK;
:force
SELECT line FROM test_plan() WHERE line ~ '^Blockers|migration  ';
SELECT name, action, detail FROM reset_config() WHERE name = 'mig.django_migrations';
BEGIN;
SET client_min_messages = warning;
SELECT reset_execute('RESET-EVERYTHING') ~ 'Deleted 1 migration row' AS deleted_on_purpose;
RESET client_min_messages;
ROLLBACK;
-- registering it again without force: blocked again, with the notice
SELECT reset_register_table('mig.django_migrations', 'delete', 'migration');
SELECT line FROM test_plan() WHERE line ~ '^Blockers';

SET client_min_messages = warning;
DROP SCHEMA mig, laravel, typeorm, moves CASCADE;
RESET client_min_messages;
DO $$ BEGIN PERFORM store.register(); PERFORM store.refill(); END $$;

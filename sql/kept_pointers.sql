-- kept_pointers: kept rows that point into the tables a reset empties.
-- Declared ON DELETE SET NULL / SET DEFAULT (with PostgreSQL 15's column
-- lists) are applied to the kept rows, NO ACTION and RESTRICT keys are set
-- to NULL where registered with reset_register_nullify, and what cannot
-- be done (CASCADE into kept rows, NOT NULL, a default pointing at a row
-- the reset deletes) blocks the plan with fixes that work.  Truncate mode
-- (the constraint dropped and created again around TRUNCATE), its small
-- tables (DELETE) and delete mode end in the same state.
SELECT test_purge_settle();
-- a reset's report, its id masked (the tests before this one decide it);
-- its NOTICEs, the same lines, are left out where it runs
CREATE FUNCTION pg_temp.reset_report(token text DEFAULT NULL) RETURNS SETOF text LANGUAGE sql AS $$
    SELECT regexp_replace(line, 'as reset [0-9]+ in', 'as reset <id> in')
    FROM regexp_split_to_table(reset_execute('RESET-EVERYTHING', token), E'\n') AS line
$$;
DELETE FROM reset_system.registered_tables;
DELETE FROM reset_system.rebuild_steps;

CREATE SCHEMA saas;
CREATE TABLE saas.workflows (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE saas.projects (
    id serial PRIMARY KEY, org_id int NOT NULL, name text NOT NULL,
    workflow_id int REFERENCES saas.workflows,
    UNIQUE (org_id, id));
CREATE TABLE saas.organizations (
    id serial PRIMARY KEY,
    name text NOT NULL,
    default_workflow_id int REFERENCES saas.workflows ON DELETE SET NULL,
    pinned_workflow_id int REFERENCES saas.workflows ON DELETE SET DEFAULT,
    last_project_id int,
    CONSTRAINT organizations_last_project_fkey FOREIGN KEY (last_project_id)
        REFERENCES saas.projects DEFERRABLE INITIALLY DEFERRED);
COMMENT ON CONSTRAINT organizations_last_project_fkey ON saas.organizations IS 'the project opened last';
-- PostgreSQL 15: only project_id is set to NULL, the tenant stays
CREATE TABLE saas.memberships (
    org_id int NOT NULL REFERENCES saas.organizations,
    project_id int,
    person text NOT NULL,
    FOREIGN KEY (org_id, project_id) REFERENCES saas.projects (org_id, id) ON DELETE SET NULL (project_id));
-- a partitioned kept table, and a constraint that was never validated
CREATE TABLE saas.events (org_id int NOT NULL, project_id int REFERENCES saas.projects ON DELETE SET NULL, what text)
    PARTITION BY LIST (org_id);
CREATE TABLE saas.events_1 PARTITION OF saas.events FOR VALUES IN (1);
CREATE TABLE saas.events_2 PARTITION OF saas.events FOR VALUES IN (2, 3);
ALTER TABLE saas.organizations ADD COLUMN owner_project_id int;

INSERT INTO saas.workflows (name) SELECT 'workflow ' || g FROM generate_series(1, 4) g;
INSERT INTO saas.projects (org_id, name, workflow_id) SELECT 1 + g % 3, 'project ' || g, 1 + g % 4 FROM generate_series(1, 9) g;
INSERT INTO saas.organizations (name, default_workflow_id, pinned_workflow_id, last_project_id, owner_project_id)
    VALUES ('acme', 1, 2, 3, 99), ('globex', 2, NULL, 4, NULL), ('initech', NULL, NULL, NULL, NULL);
ALTER TABLE saas.organizations ADD CONSTRAINT organizations_owner_project_fkey
    FOREIGN KEY (owner_project_id) REFERENCES saas.projects ON DELETE SET NULL NOT VALID;
INSERT INTO saas.memberships VALUES (1, 3, 'ann'), (2, 4, 'bo'), (3, NULL, 'cy');
INSERT INTO saas.events VALUES (1, 3, 'opened'), (2, 4, 'opened'), (3, NULL, 'signed up');

-- what a test compares: every row, every constraint of the schema (name,
-- definition, validated, deferrable, comment) and every sequence
CREATE FUNCTION saas.end_state() RETURNS text LANGUAGE sql AS $$
    SELECT md5(string_agg(t, '|' ORDER BY t)) FROM (
        SELECT 'w' || w::text AS t FROM saas.workflows w
        UNION ALL SELECT 'p' || p::text FROM saas.projects p
        UNION ALL SELECT 'o' || o::text FROM saas.organizations o
        UNION ALL SELECT 'm' || m::text FROM saas.memberships m
        UNION ALL SELECT 'e' || e.tableoid::regclass::text || e::text FROM saas.events e
        UNION ALL SELECT 'c' || c.conrelid::regclass::text || ' ' || c.conname || ' ' || pg_get_constraintdef(c.oid)
                  || c.convalidated || c.condeferrable || c.condeferred || coalesce(obj_description(c.oid, 'pg_constraint'), '-')
                  FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid
                  WHERE r.relnamespace = 'saas'::regnamespace
        UNION ALL SELECT 's' || s.relname || ' ' || pg_sequence_last_value(s.oid::regclass)
                  FROM pg_class s WHERE s.relkind = 'S' AND s.relnamespace = 'saas'::regnamespace
    ) rows
$$;
SELECT saas.end_state() AS before \gset

SELECT reset_register_table('saas.workflows', 'delete', 'workflow');
SELECT reset_register_table('saas.projects', 'delete', 'project');
SELECT reset_register_table('saas.organizations', 'preserve', 'organization');
SELECT reset_register_table('saas.memberships', 'preserve', 'membership');
SELECT reset_register_table('saas.events', 'preserve', 'event');

-- the plan: declared actions are applied, the NO ACTION key blocks
SELECT * FROM test_plan() WHERE line ~ '^Will SET|^Blockers|^  - |^    Fix';

-- the fix the blocker names, run as it is
SELECT f AS fix FROM reset_plan_json() p, jsonb_array_elements(p->'blocker_details') b,
     jsonb_array_elements_text(b->'fixes') f WHERE f ~ 'nullify' \gset
SELECT :'fix' AS running;
:fix
SELECT * FROM test_plan() WHERE line ~ '^Will SET|^Blockers';
SELECT jsonb_pretty(reset_plan_json()->'kept_changes'->1);

-- the token covers the actions: a SET NULL key added after the plan was
-- read is not applied under the old token
SELECT test_token() AS token \gset
ALTER TABLE saas.organizations ADD COLUMN second_workflow_id int REFERENCES saas.workflows ON DELETE SET NULL;
SELECT test_error(format('SELECT reset_execute(%L, %L)', 'RESET-EVERYTHING', :'token'));
ALTER TABLE saas.organizations DROP COLUMN second_workflow_id;
SELECT test_token() = :'token' AS same_token_again;

-- truncate mode, TRUNCATE for every table: the kept tables' foreign keys
-- are dropped around the TRUNCATE and created again
SELECT oid AS con_oid FROM pg_constraint WHERE conname = 'organizations_last_project_fkey' \gset
SET reset_system.small_table_rows = 0;
BEGIN;
SET client_min_messages = warning;
SELECT * FROM pg_temp.reset_report(:'token');
RESET client_min_messages;
SELECT oid <> :con_oid AS created_again FROM pg_constraint WHERE conname = 'organizations_last_project_fkey';
SELECT * FROM saas.organizations ORDER BY id;
SELECT * FROM saas.memberships ORDER BY person;
SELECT tableoid::regclass, * FROM saas.events ORDER BY what, org_id;
SELECT (SELECT count(*) FROM saas.workflows) AS workflows, (SELECT count(*) FROM saas.projects) AS projects;
SELECT saas.end_state() AS truncated \gset
ROLLBACK;
SELECT saas.end_state() = :'before' AS rolled_back;

-- truncate mode with small tables (DELETE), and delete mode: the same end
RESET reset_system.small_table_rows;
BEGIN;
SET client_min_messages = warning;
SELECT reset_execute('RESET-EVERYTHING', :'token') IS NOT NULL AS done \gset
RESET client_min_messages;
SELECT saas.end_state() AS small_deleted \gset
ROLLBACK;
SET reset_system.mode = 'delete';
BEGIN;
SET client_min_messages = warning;
SELECT reset_execute('RESET-EVERYTHING', :'token') IS NOT NULL AS done \gset
RESET client_min_messages;
SELECT saas.end_state() AS deleted \gset
SELECT oid = :con_oid AS same_constraint FROM pg_constraint WHERE conname = 'organizations_last_project_fkey';
ROLLBACK;
RESET reset_system.mode;
SELECT :'truncated' = :'small_deleted' AS truncate_like_small, :'truncated' = :'deleted' AS truncate_like_delete;

-- the constraints after the reset, one by one
SET reset_system.small_table_rows = 0;
BEGIN;
SET client_min_messages = warning;
SELECT reset_execute('RESET-EVERYTHING') IS NOT NULL AS done \gset
RESET client_min_messages;
SELECT c.conrelid::regclass AS tbl, c.conname, pg_get_constraintdef(c.oid), c.convalidated, c.condeferrable, c.condeferred,
       obj_description(c.oid, 'pg_constraint') AS comment
FROM pg_constraint c WHERE c.contype = 'f' AND c.conrelid::regclass::text IN ('saas.organizations', 'saas.memberships', 'saas.events')
ORDER BY 1::text, 2;
-- a new row can point at a rebuilt workflow again; a kept row cannot point at nothing
INSERT INTO saas.workflows (name) VALUES ('fresh') RETURNING id;
UPDATE saas.organizations SET default_workflow_id = 1 WHERE name = 'acme';
SAVEPOINT s;
UPDATE saas.organizations SET pinned_workflow_id = 7 WHERE name = 'acme';
ROLLBACK TO s;
ROLLBACK;
RESET reset_system.small_table_rows;

-- SET DEFAULT with a default that is not NULL: kept rows would point at a
-- row the reset deletes
ALTER TABLE saas.organizations ALTER COLUMN pinned_workflow_id SET DEFAULT 1;
SELECT * FROM test_plan() WHERE line ~ '^Blockers|^  - |^    Fix';
SELECT test_error_full('SELECT reset_execute(''RESET-EVERYTHING'')');
SELECT f AS fix FROM reset_plan_json() p, jsonb_array_elements(p->'blocker_details') b,
     jsonb_array_elements_text(b->'fixes') f WHERE f ~ 'nullify' \gset
:fix
SELECT * FROM test_plan() WHERE line ~ '^Will SET|^Blockers';
ALTER TABLE saas.organizations ALTER COLUMN pinned_workflow_id DROP DEFAULT;
SELECT reset_register_nullify('saas.organizations', ARRAY['last_project_id']);

-- CASCADE from an unregistered table, NOT NULL in a preserved one: blocked;
-- their fixes work
CREATE TABLE saas.audit (project_id int REFERENCES saas.projects ON DELETE CASCADE, note text);
CREATE TABLE saas.invoices (project_id int NOT NULL REFERENCES saas.projects, amount int);
SELECT reset_register_table('saas.invoices', 'preserve', 'invoice');
SELECT * FROM test_plan() WHERE line ~ '^Blockers|^  - |^    Fix';
SELECT test_error_full('SELECT reset_execute(''RESET-EVERYTHING'')');
SELECT b->>'detail' AS detail FROM reset_plan_json() p, jsonb_array_elements(p->'blocker_details') b;
SELECT string_agg(f, ' ') AS fixes FROM reset_plan_json() p, jsonb_array_elements(p->'blocker_details') b,
     jsonb_array_elements_text(b->'fixes') f \gset
BEGIN;
:fixes
SELECT * FROM test_plan() WHERE line ~ '^Will DELETE|^  |^Blockers';
ROLLBACK;
SELECT reset_unregister('saas.invoices');
DROP TABLE saas.audit, saas.invoices;

-- an operator that does not own a kept table cannot have its foreign key
-- dropped: TRUNCATE is refused with the reason; delete mode works
CREATE ROLE rs_kept_op;
SELECT count(*) > 0 AS granted FROM reset_grant_operator('rs_kept_op');
GRANT USAGE ON SCHEMA saas TO rs_kept_op;
GRANT SELECT, UPDATE ON ALL TABLES IN SCHEMA saas TO rs_kept_op;
ALTER TABLE saas.workflows OWNER TO rs_kept_op;
ALTER TABLE saas.projects OWNER TO rs_kept_op;
SET ROLE rs_kept_op;
SET reset_system.small_table_rows = 0;
SELECT * FROM test_plan() WHERE line ~ '^Blockers|^  - |^    Fix';
SELECT test_error_full('SELECT reset_execute(''RESET-EVERYTHING'')');
SET reset_system.mode = 'delete';
BEGIN;
SET client_min_messages = warning;
SELECT reset_execute('RESET-EVERYTHING') ~ 'Set NULL saas.organizations.default_workflow_id in 2 preserved' AS deleted_as_operator;
RESET client_min_messages;
ROLLBACK;
RESET reset_system.mode;
RESET reset_system.small_table_rows;
RESET ROLE;
ALTER TABLE saas.workflows OWNER TO postgres;
ALTER TABLE saas.projects OWNER TO postgres;
DROP OWNED BY rs_kept_op;
DROP ROLE rs_kept_op;

-- reset_register_nullify checks what it is given
SELECT test_error($$SELECT reset_register_nullify('saas.organizations', ARRAY['name'])$$);
SELECT test_error($$SELECT reset_register_nullify('saas.memberships', ARRAY['org_id'])$$);
SELECT test_error($$SELECT reset_register_nullify('saas.organizations', ARRAY['nope'])$$);
SELECT test_error($$SELECT reset_register_nullify('saas.organizations', ARRAY['last_project_id', 'last_project_id'])$$);
SELECT test_error($$SELECT reset_register_nullify('saas.organizations', '{}')$$);
SELECT test_error($$SELECT reset_register_nullify('saas.organizations', NULL)$$);
SELECT test_error($$SELECT reset_unregister_nullify('saas.memberships')$$);
CREATE ROLE rs_reader;
GRANT USAGE ON SCHEMA saas TO rs_reader;
GRANT SELECT ON saas.organizations TO rs_reader;
GRANT EXECUTE ON FUNCTION reset_register_nullify(regclass, text[]) TO rs_reader;
SET ROLE rs_reader;
SELECT test_error($$SELECT reset_register_nullify('saas.organizations', ARRAY['last_project_id'])$$);
RESET ROLE;
DROP OWNED BY rs_reader;
DROP ROLE rs_reader;
-- registering again says what changed
SELECT reset_register_nullify('saas.organizations', ARRAY['last_project_id']);
SELECT reset_register_nullify('saas.organizations', ARRAY['last_project_id', 'owner_project_id']);
SELECT kind, name, action, detail FROM reset_config() WHERE kind = 'nullify';
SELECT reset_unregister_nullify('saas.organizations');

SELECT saas.end_state() = :'before' AS unchanged;
SET client_min_messages = warning;
DROP SCHEMA saas CASCADE;
RESET client_min_messages;
DO $$ BEGIN PERFORM store.register(); PERFORM store.refill(); END $$;

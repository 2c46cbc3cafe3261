-- generic_refs: kept rows that point at rows by (type, id), with no
-- foreign key.  Registered, their rows pointing into emptied tables are
-- deleted with them (counted in the plan and the report), so no object
-- permission or tag outlives its object and lands on a new one; a table
-- that looks like it holds such references is a warning until it is
-- registered; type values that map to no table are warnings naming them.
SELECT test_purge_settle();
-- a reset's report, its id masked (the tests before this one decide it);
-- its NOTICEs, the same lines, are left out where it runs
CREATE FUNCTION pg_temp.reset_report(token text DEFAULT NULL) RETURNS SETOF text LANGUAGE sql AS $$
    SELECT regexp_replace(line, 'as reset [0-9]+ in', 'as reset <id> in')
    FROM regexp_split_to_table(reset_execute('RESET-EVERYTHING', token), E'\n') AS line
$$;
DELETE FROM reset_system.registered_tables;
DELETE FROM reset_system.rebuild_steps;

---------------------------------------------------------------- Django
\i test/fixtures/django_app.sql
SELECT * FROM reset_register_schema('dj', ARRAY['django_content_type', 'auth_user', 'auth_permission',
       'guardian_userobjectpermission', 'taggit_tag', 'taggit_taggeditem', 'django_admin_log']);

-- not registered yet: warnings with the call that registers each
SELECT line FROM test_plan() WHERE line ~ 'generic reference';

SELECT reset_register_generic('dj.guardian_userobjectpermission', 'content_type_id', 'object_pk', convention => 'django');
SELECT reset_register_generic('dj.taggit_taggeditem', 'content_type_id', 'object_id', convention => 'django');
SELECT reset_register_generic('dj.django_admin_log', 'content_type_id', 'object_id', convention => 'django');
-- a model with a db_table of its own cannot be guessed: it is a warning
SELECT * FROM test_plan() WHERE line ~ '^Will DELETE [0-9]+ preserved|^Warnings|^  - |^Blockers';
-- targets map it
SELECT reset_register_generic('dj.guardian_userobjectpermission', 'content_type_id', 'object_pk',
       targets => '{"reports.report": "dj.legacy_reports"}', convention => 'django');
SELECT reset_register_table('dj.legacy_reports', 'delete', 'report');
SELECT * FROM test_plan() WHERE line ~ '^Will DELETE [0-9]+ preserved|^Warnings|^  - |^Blockers';
SELECT t->>'type' AS type, t->>'table' AS tbl, t->>'emptied' AS emptied, t->>'rows' AS rows
FROM reset_plan_json() p, jsonb_array_elements(p->'kept_changes') c, jsonb_array_elements(c->'types') t
WHERE c->>'table' = 'dj.guardian_userobjectpermission' ORDER BY 1;

BEGIN;
SET client_min_messages = warning;
SELECT * FROM pg_temp.reset_report();
RESET client_min_messages;
-- what is left points at kept rows only (and at the content type nobody can map)
SELECT g.content_type_id, ct.app_label || '.' || ct.model AS model, g.object_pk, g.user_id
FROM dj.guardian_userobjectpermission g JOIN dj.django_content_type ct ON ct.id = g.content_type_id ORDER BY 1, 3, 4;
SELECT object_id, content_type_id FROM dj.taggit_taggeditem ORDER BY 1, 2;
SELECT object_id, object_repr FROM dj.django_admin_log ORDER BY 2;
-- the first project created after the reset has no permission and no tag
INSERT INTO dj.projects_project (name) VALUES ('fresh') RETURNING id;
SELECT count(*) AS permissions_on_fresh FROM dj.guardian_userobjectpermission WHERE content_type_id = 2 AND object_pk = '1';
SELECT count(*) AS tags_on_fresh FROM dj.taggit_taggeditem WHERE content_type_id = 2 AND object_id = 1;
-- the migration history is untouched
SELECT count(*) AS migrations FROM dj.django_migrations;
ROLLBACK;

-- reset_system.restart_identity = off: the ids go on, so a reference the
-- reset did not know about can never alias a new row
SET reset_system.restart_identity = off;
SELECT line FROM test_plan() WHERE line ~ '^Sequences';
SELECT reset_plan_json()->'restart_identity' AS restart_identity;
BEGIN;
SET client_min_messages = warning;
SELECT reset_execute('RESET-EVERYTHING') IS NOT NULL AS done \gset
RESET client_min_messages;
INSERT INTO dj.projects_project (name) VALUES ('fresh') RETURNING id;
ROLLBACK;
RESET reset_system.restart_identity;

SELECT kind, name, action, detail FROM reset_config() WHERE kind = 'generic' ORDER BY name;
SELECT reset_unregister_generic('dj.guardian_userobjectpermission', 'content_type_id');
SELECT reset_unregister_generic('dj.taggit_taggeditem');
SELECT reset_unregister_generic('dj.django_admin_log');
SET client_min_messages = warning;
DROP SCHEMA dj CASCADE;
RESET client_min_messages;
DELETE FROM reset_system.registered_tables;

---------------------------------------------------------------- Rails
\i test/fixtures/rails_app.sql
-- the migration tables are kept without being named
SELECT * FROM reset_register_schema('rails_app', ARRAY['users', 'comments', 'active_storage_blobs',
       'active_storage_attachments', 'active_storage_variant_records']);
SELECT line FROM test_plan() WHERE line ~ 'generic reference';
SELECT reset_register_generic('rails_app.comments', 'commentable_type', 'commentable_id', convention => 'rails');
SELECT reset_register_generic('rails_app.active_storage_attachments', 'record_type', 'record_id', convention => 'rails');
SELECT * FROM test_plan() WHERE line ~ '^Will|^  |^Warnings|^Blockers';
BEGIN;
SET client_min_messages = warning;
SELECT * FROM pg_temp.reset_report();
RESET client_min_messages;
SELECT commentable_type, commentable_id, body FROM rails_app.comments ORDER BY id;
SELECT record_type, record_id, name FROM rails_app.active_storage_attachments ORDER BY id;
SELECT count(*) AS blobs, (SELECT count(*) FROM rails_app.schema_migrations) AS migrations,
       (SELECT count(*) FROM rails_app.ar_internal_metadata) AS metadata FROM rails_app.active_storage_blobs;
SELECT string_agg(c::text, ',' ORDER BY c.id) AS truncate_mode_comments FROM rails_app.comments c \gset
ROLLBACK;
-- delete mode ends the same
SET reset_system.mode = 'delete';
BEGIN;
SET client_min_messages = warning;
SELECT reset_execute('RESET-EVERYTHING') ~ 'Deleted 5 preserved comments row' AS deleted;
RESET client_min_messages;
SELECT string_agg(c::text, ',' ORDER BY c.id) = :'truncate_mode_comments' AS same_comments FROM rails_app.comments c;
ROLLBACK;
RESET reset_system.mode;

-- an exception to the rules, mapped with targets
SELECT reset_register_generic('rails_app.comments', 'commentable_type', 'commentable_id',
       targets => '{"Legacy::Thing": "rails_app.posts"}', convention => 'rails');
SELECT line FROM test_plan() WHERE line ~ 'comments row';

-- Rails' default inflections, class by class: one table for each, and a
-- kept table of taggings pointing at all of them
CREATE SCHEMA inflect;
CREATE TABLE inflect.taggings (id serial, taggable_type text NOT NULL, taggable_id bigint NOT NULL);
CREATE FUNCTION inflect.make(class_names text[], tables text[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1 .. cardinality(tables) LOOP
        EXECUTE format('CREATE TABLE inflect.%I (id serial PRIMARY KEY)', tables[i]);
        EXECUTE format('INSERT INTO inflect.%I DEFAULT VALUES', tables[i]);
        INSERT INTO inflect.taggings (taggable_type, taggable_id) VALUES (class_names[i], 1);
    END LOOP;
END
$$;
SELECT inflect.make(
    ARRAY['Person', 'Salesperson', 'Man', 'Woman', 'Child', 'Sex', 'Move', 'Zombie', 'Category', 'Box', 'Wolf',
          'Knife', 'Analysis', 'Status', 'Bus', 'Quiz', 'Matrix', 'Vertex', 'Index', 'Mouse', 'Ox', 'Octopus', 'Datum',
          'Medium', 'Equipment', 'Sheep', 'Series', 'News', 'Hive', 'Tomato', 'Axis', 'Alias', 'BlogPost',
          'HTMLPage', 'Admin::User', 'Soliloquy', 'Day', 'Church', 'Address', 'Wish'],
    ARRAY['people', 'salespeople', 'men', 'women', 'children', 'sexes', 'moves', 'zombies', 'categories', 'boxes', 'wolves',
          'knives', 'analyses', 'statuses', 'buses', 'quizzes', 'matrices', 'vertices', 'indices', 'mice', 'oxen', 'octopi', 'data',
          'media', 'equipment', 'sheep', 'series', 'news', 'hives', 'tomatoes', 'axes', 'aliases', 'blog_posts',
          'html_pages', 'admin_users', 'soliloquies', 'days', 'churches', 'addresses', 'wishes']);
-- a namespaced class whose table has no prefix, and one Rails cannot tell
CREATE TABLE inflect.invoices (id serial PRIMARY KEY);
INSERT INTO inflect.invoices DEFAULT VALUES;
INSERT INTO inflect.taggings (taggable_type, taggable_id) VALUES ('Billing::Invoice', 1), ('Ghost', 1);
SELECT * FROM reset_register_schema('inflect', ARRAY['taggings']) WHERE action = 'preserve';
SELECT reset_register_generic('inflect.taggings', 'taggable_type', 'taggable_id', convention => 'rails');
SELECT t->>'type' AS class_name, t->>'table' AS tbl
FROM reset_plan_json() p, jsonb_array_elements(p->'kept_changes') c, jsonb_array_elements(c->'types') t
WHERE c->>'table' = 'inflect.taggings' ORDER BY 1;
SELECT line FROM test_plan() WHERE line ~ 'map to no table';
-- both candidates exist: ambiguous, left to targets
CREATE TABLE inflect.billing_invoices (id serial PRIMARY KEY);
SELECT line FROM test_plan() WHERE line ~ 'map to no table';

---------------------------------------------------------------- checks
SELECT test_error($$SELECT reset_register_generic('rails_app.comments', 'commentable_type', 'commentable_id')$$);
SELECT test_error($$SELECT reset_register_generic('rails_app.comments', 'commentable_type', 'commentable_id', convention => 'laravel')$$);
SELECT test_error($$SELECT reset_register_generic('rails_app.comments', 'commentable_type', 'nope', convention => 'rails')$$);
SELECT test_error($$SELECT reset_register_generic('rails_app.comments', 'commentable_id', 'body', convention => 'rails')$$);
SELECT test_error($$SELECT reset_register_generic('rails_app.comments', 'commentable_type', 'commentable_type', convention => 'rails')$$);
SELECT test_error($$SELECT reset_register_generic('rails_app.comments', 'commentable_type', 'commentable_id', convention => 'django')$$);
SELECT test_error($$SELECT reset_register_generic('rails_app.comments', 'commentable_type', 'commentable_id', targets => '["Post"]')$$);
SELECT test_error($$SELECT reset_register_generic('rails_app.comments', 'commentable_type', 'commentable_id', targets => '{"Post": "rails_app.nope"}')$$);
SELECT test_error($$SELECT reset_register_generic('rails_app.comments', 'commentable_type', 'commentable_id', targets => '{"Post": 1}')$$);
SELECT test_error($$SELECT reset_register_generic('rails_app.active_storage_attachments', 'record_type', 'created_at', convention => 'rails')$$);
SELECT test_error($$SELECT reset_unregister_generic('rails_app.users')$$);
-- targets are stored with qualified names
SET search_path = rails_app, public;
SELECT reset_register_generic('comments', 'commentable_type', 'commentable_id', targets => '{"Post": "posts"}');
RESET search_path;
SELECT detail FROM reset_config() WHERE kind = 'generic' AND name = 'rails_app.comments';

SELECT reset_unregister_generic('inflect.taggings');
SELECT reset_unregister_generic('rails_app.comments');
SELECT reset_unregister_generic('rails_app.active_storage_attachments');
SET client_min_messages = warning;
DROP SCHEMA inflect, rails_app CASCADE;
RESET client_min_messages;
DO $$ BEGIN PERFORM store.register(); PERFORM store.refill(); END $$;

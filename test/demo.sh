#!/usr/bin/env bash
# demo.sh: reset_system end to end on the bundled sample application.
#
#   bash test/demo.sh          (as root, or as a user with sudo)
#
# It installs what is missing, builds and installs the extension, starts a
# throwaway PostgreSQL instance in a scratch directory, loads a sample
# validation service (organizations, users, projects, workflows,
# validators, submissions, validation runs, findings) filled with
# generated data, and then does what an operator does: read the plan,
# execute it with the plan's token, wait for the storage purge, and look at
# what was kept and rebuilt.  The application's uploaded files live in a
# media directory (the local-directory storage backend): the files of
# deleted rows go, those of kept and rebuilt rows stay.
# Set KEEP=1 to leave the instance running afterwards.

source "$(dirname "$0")/lib/common.sh"

install_packages
WORK=$(make_workdir demo)
# RS_INSTALLED=1: this tree's build is installed already (run-tests.sh)
[ -n "${RS_INSTALLED:-}" ] || build_and_install "$WORK"
CL=$WORK/cluster
start_cluster "$CL" "$(free_port)" "log_min_messages = warning"
if [ -z "${KEEP:-}" ]; then trap 'stop_cluster "$CL"; rm -rf "$WORK"' EXIT; fi

demo_psql() { run_pg psql -X -q -v ON_ERROR_STOP=1 -d demo "$@"; }
show() { printf '\n$ %s\n' "$1"; demo_psql -c "$1"; }

say "creating the sample application (database \"demo\")"
run_pg psql -X -q -d postgres -c "CREATE DATABASE demo"
run_pg psql -X -q -d postgres -c "ALTER DATABASE demo SET reset_system.environment = 'demo'"
demo_psql -f "$WORK/test/fixtures/validation_app.sql"
demo_psql -c "SELECT app.generate_demo_data(25)" >/dev/null

MEDIA=$WORK/media
say "creating the application's uploaded files in $MEDIA"
demo_psql -At -c "SELECT file_key FROM app.submissions UNION ALL SELECT report_key FROM app.validation_runs
                  UNION ALL SELECT rules_key FROM app.validators UNION ALL SELECT avatar_key FROM app.users
                  UNION ALL SELECT 'tmp/import-' || g || '.csv' FROM generate_series(1, 20) g" \
  | run_pg perl -ne 'chomp; my $p = "'"$MEDIA"'/$_"; (my $d = $p) =~ s{/[^/]*$}{};
                     system("mkdir", "-p", $d) unless -d $d; open my $f, ">", $p or die "$p: $!"; print $f "demo\n"; close $f;'
media_summary() {
    echo "  the media directory $1:"
    (cd "$MEDIA" && find . -type f | awk -F/ '{
        d = ($2 == "uploads" || $2 == "resources") ? $2 "/" $3 : $2; n[d]++ }
        END { for (d in n) printf "  %6d files in %s/\n", n[d], d }' | sort -k4)
}
media_summary "before the reset"

say "installing reset_system and registering the application"
demo_psql <<'SQL'
CREATE EXTENSION reset_system;
-- everything in schema app is deleted, except identity data and migrations
SELECT tbl, action, status
FROM reset_register_schema('app', ARRAY['schema_migrations', 'organizations', 'users']);
DO $$
BEGIN
    -- labels for the report, and the columns that hold uploaded file keys
    PERFORM reset_register_table('app.submissions', 'delete', 'submission', '{file_key}');
    PERFORM reset_register_table('app.validation_runs', 'delete', 'validation run', '{report_key}');
    PERFORM reset_register_table('app.findings', 'delete', 'finding');
    PERFORM reset_register_table('app.projects', 'delete', 'project');
    PERFORM reset_register_table('app.workflows', 'delete', 'workflow');
    PERFORM reset_register_table('app.workflow_validators', 'delete', 'workflow step');
    PERFORM reset_register_table('app.validators', 'delete', 'validator', '{rules_key}');
    PERFORM reset_register_table('app.organizations', 'preserve', 'organization');
    PERFORM reset_register_table('app.users', 'preserve', 'user', '{avatar_key}');
    PERFORM reset_register_table('app.schema_migrations', 'preserve', 'migration');
    -- the baseline a fresh install has
    PERFORM reset_register_rebuild('baseline validator', 'SELECT app.seed_validators()');
    -- scratch files of unfinished imports: everything under tmp/ goes
    PERFORM reset_register_prefix('tmp/');
END $$;
SQL
demo_psql -c "SELECT reset_configure_storage('file', '{\"root\": \"$MEDIA\"}')"
show "SELECT kind, name, action, label, detail FROM reset_config();"

say "1. read the plan (a dry run: nothing changes)"
printf '\n$ SELECT reset_plan();\n'
demo_psql -At -c "SELECT reset_plan();"

say "2. execute it, with the token of the plan that was read"
TOKEN=$(demo_psql -At -c "SELECT reset_plan_json() ->> 'token'")
printf '\n$ SELECT reset_execute('"'"'RESET-EVERYTHING'"'"', '"'"'%s'"'"');\n' "$TOKEN"
demo_psql -At -c "SELECT reset_execute('RESET-EVERYTHING', '$TOKEN');" 2>/dev/null

say "3. the storage purge runs after COMMIT, in a background worker"
show "SELECT reset_purge_wait('5 minutes');"
show "SELECT * FROM reset_purge_status();"
echo
media_summary "after the purge (kept: avatars of preserved users, resources of rebuilt validators)"

say "4. what is there now"
show "SELECT 'organizations' AS tbl, count(*) FROM app.organizations
      UNION ALL SELECT 'users', count(*) FROM app.users
      UNION ALL SELECT 'schema_migrations', count(*) FROM app.schema_migrations
      UNION ALL SELECT 'projects', count(*) FROM app.projects
      UNION ALL SELECT 'submissions', count(*) FROM app.submissions
      UNION ALL SELECT 'validation_runs', count(*) FROM app.validation_runs
      UNION ALL SELECT 'validators', count(*) FROM app.validators;"
show "SELECT id, slug, name, version, is_system FROM app.validators ORDER BY id;"
show "SELECT id, started_at::timestamp(0), role_name, database_name, environment, rows_deleted,
             purge_objects, purged, purge_failed
      FROM reset_system.history ORDER BY id;"

say "5. a wrong phrase is an error, never a quiet no-op"
printf '\n$ SELECT reset_execute('"'"'reset-everything'"'"');\n'
demo_psql -c "SELECT reset_execute('reset-everything');" 2>&1 || true

say "demo finished"
if [ -n "${KEEP:-}" ]; then
    echo "The instance is still running: psql -h $CL -p $PGPORT -U postgres demo"
fi

# Backup and restore in a database that is not UTF-8 (LATIN1): table and
# column names with non-ASCII letters and quotes are recorded in the
# backup's JSON and in the restore's record (JSON and text[]) exactly, in
# the database's own encoding, and the rows come back.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use ResetSystemTest;

my $node = new_node('encoding');
$node->start;
my $db = 'latin';
$node->safe_psql('postgres',
	"CREATE DATABASE $db ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0");
label_db($node, $db);
# every session speaks UTF-8; the server converts to and from LATIN1
my $q = sub { $node->safe_psql($db, "SET client_encoding = 'UTF8';\n" . $_[0]) };

is($q->(q{SELECT pg_catalog.getdatabaseencoding()}), 'LATIN1', 'the database is LATIN1');
$q->(q{
	CREATE EXTENSION reset_system;
	CREATE SCHEMA "café";
	CREATE TABLE "café"."q""ñ" (id integer PRIMARY KEY, "prix ""é""" text);
	INSERT INTO "café"."q""ñ" VALUES (1, 'crème'), (2, 'brûlée, "deux"');
	SELECT reset_register_table('"café"."q""ñ"', 'delete', 'entrée');
});
my $before = $q->(q{SELECT string_agg(t::text, '|' ORDER BY id) FROM "café"."q""ñ" t});

$q->(q{SELECT reset_execute('RESET-EVERYTHING', backup => true)});
my $rid = $q->(q{SELECT max(reset_id) FROM reset_system.backups});
is($q->(q{SELECT count(*) FROM "café"."q""ñ"}), 0, 'the reset emptied the table');
is($q->(qq{SELECT t ->> 'table' FROM reset_system.backups, jsonb_array_elements(tables) t WHERE reset_id = $rid}),
	'café.q"ñ', 'the backup records the name');
is($q->(qq{SELECT t -> 'columns' FROM reset_system.backups, jsonb_array_elements(tables) t WHERE reset_id = $rid}),
	'[["id", "integer"], ["prix \"é\"", "text"]]', 'and its columns');
like($q->(qq{SELECT reset_restore_plan($rid)}), qr/Blockers: none/, 'the restore plan has no blocker');

# left out, then restored
$q->(qq{SELECT reset_restore($rid, 'RESTORE-EVERYTHING', exclude => ARRAY['café.q"ñ'])});
is($q->(qq{SELECT excluded[1] FROM reset_system.restores WHERE reset_id = $rid}),
	'café.q"ñ', 'an excluded table is recorded by its name');
is($q->(q{SELECT count(*) FROM "café"."q""ñ"}), 0, 'and left as it was');
$q->(qq{SELECT reset_restore($rid, 'RESTORE-EVERYTHING')});
is($q->(qq{SELECT tables -> 0 ->> 'table' FROM reset_system.restores WHERE reset_id = $rid ORDER BY id DESC LIMIT 1}),
	'café.q"ñ', 'a restored table is recorded by its name');
is($q->(q{SELECT string_agg(t::text, '|' ORDER BY id) FROM "café"."q""ñ" t}), $before, 'the rows are back');
like($q->(qq{SELECT reset_backup_drop($rid)}), qr/^Dropped the backup of reset $rid /, 'the backup is dropped');

$node->stop;
done_testing();

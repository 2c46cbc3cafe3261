# The purge worker behaves like a core background worker: it shows what it
# does in pg_stat_activity, ends cleanly on SIGTERM without losing work,
# rereads its settings on SIGHUP, and steps aside when the extension or
# the database is dropped under it.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use ResetSystemTest;

# fill_media(NODE, DB, ROOT, N): a table of N keys, their files, registered.
sub fill_media
{
	my ($node, $db, $root, $n) = @_;
	mkdir $root;
	$node->safe_psql($db, qq{
		CREATE TABLE media (id serial PRIMARY KEY, file_key text);
		INSERT INTO media (file_key) SELECT 'm/' || (g % 100) || '/' || g || '.bin' FROM generate_series(1, $n) g;
		CREATE EXTENSION reset_system;
		SELECT reset_register_table('media', 'delete', 'media file', '{file_key}');
		SELECT reset_configure_storage('file', jsonb_build_object('root', '$root'));
	});
	my $keys = [ split /\n/, $node->safe_psql($db, 'SELECT file_key FROM media ORDER BY id') ];
	make_files($root, $keys);
	return $keys;
}

my $worker = q{backend_type = 'reset_system purge worker'};

# ---- not preloaded: SIGTERM, SIGHUP, pg_stat_activity ----------------------
my $node = new_node('lifecycle', conf => "reset_system.purge_batch_size = 50\n");
$node->start;
label_db($node, 'postgres');
my $root = $node->basedir . '/media';
my $keys = fill_media($node, 'postgres', $root, 10000);

$node->safe_psql('postgres', "SELECT reset_execute('RESET-EVERYTHING')");
ok($node->poll_query_until('postgres',
	qq{SELECT count(*) = 1 FROM pg_stat_activity WHERE $worker AND query LIKE 'reset_system purge: % object(s) of reset 1 from directory %'}),
	'pg_stat_activity shows what the worker does');
my $pid = $node->safe_psql('postgres', "SELECT pid FROM pg_stat_activity WHERE $worker");
kill 'TERM', $pid;
ok($node->poll_query_until('postgres', "SELECT count(*) = 0 FROM pg_stat_activity WHERE $worker"),
	'SIGTERM ends the worker');
ok($node->log_contains(qr/terminating background worker "reset_system purge worker" due to administrator command/),
	'as a core worker ends, with FATAL "due to administrator command"');
ok(!$node->log_contains(qr/terminating any other active server processes/),
	'without a crash restart');
my $pending = $node->safe_psql('postgres',
	q{SELECT count(*) FROM reset_system.purge_queue WHERE state = 'pending'});
cmp_ok($pending, '>', 0, 'the unfinished work is still queued');
is($node->safe_psql('postgres', q{SELECT count(*) FROM reset_system.purge_queue}), scalar @$keys,
	'nothing was lost');

# SIGHUP: pause through the configuration, then kick: the worker reports it is paused
$node->safe_psql("postgres", "LOAD 'reset_system'; ALTER SYSTEM SET reset_system.purge_paused = on");
$node->reload;
$node->safe_psql('postgres', 'SELECT reset_purge_kick()');
ok($node->poll_query_until('postgres',
	qq{SELECT count(*) = 1 FROM pg_stat_activity WHERE $worker AND query = 'paused (reset_system.purge_paused)'}),
	'a paused worker says so in pg_stat_activity');
$node->safe_psql("postgres", "LOAD 'reset_system'; ALTER SYSTEM SET reset_system.purge_paused = off");
$node->reload;
ok(wait_purge_done($node, 'postgres'), 'SIGHUP with the pause lifted: the worker goes on and finishes');
is(files_present($root, $keys), 0, 'every file is gone');

# DROP EXTENSION while a worker is busy: it steps aside
$node->safe_psql('postgres', q{
	INSERT INTO media (file_key) SELECT 'm/' || (g % 100) || '/' || g || '.bin' FROM generate_series(1, 10000) g;
});
make_files($root, $keys);
$node->safe_psql('postgres', "SELECT reset_execute('RESET-EVERYTHING')");
ok($node->poll_query_until('postgres',
	q{SELECT count(*) >= 200 FROM reset_system.purge_queue WHERE reset_id = 2 AND state = 'done'}),
	'a second purge is under way');
my $log_offset = -s $node->logfile;
$node->safe_psql('postgres', 'DROP EXTENSION reset_system');
ok($node->poll_query_until('postgres', "SELECT count(*) = 0 FROM pg_stat_activity WHERE $worker"),
	'DROP EXTENSION under a busy worker: the worker exits');
ok(!$node->log_contains(qr/ERROR|exited with exit code 1/, $log_offset),
	'cleanly, without an error, and DROP EXTENSION did not deadlock');
$node->stop;

# ---- preloaded: DROP DATABASE under a worker ------------------------------
my $pre = new_node('lifecycle_preloaded', preload => 1,
	conf => "reset_system.purge_batch_size = 50\nreset_system.purge_naptime = 1\n");
$pre->start;
$pre->safe_psql('postgres', 'CREATE DATABASE doomed');
label_db($pre, 'doomed');
my $root2 = $pre->basedir . '/media';
fill_media($pre, 'doomed', $root2, 10000);
$pre->safe_psql('doomed', "SELECT reset_execute('RESET-EVERYTHING')");
ok($pre->poll_query_until('postgres',
	qq{SELECT count(*) = 1 FROM pg_stat_activity WHERE $worker AND datname = 'doomed'}),
	'a worker purges in database "doomed"');
$pre->safe_psql('postgres', 'DROP DATABASE doomed WITH (FORCE)');
is($pre->safe_psql('postgres', q{SELECT count(*) FROM pg_database WHERE datname = 'doomed'}), '0',
	'DROP DATABASE ... WITH (FORCE) succeeds under a worker');
sleep 3;    # three launcher rounds
ok($pre->poll_query_until('postgres', "SELECT count(*) = 0 FROM pg_stat_activity WHERE $worker"),
	'no worker is left for the dropped database');
ok($pre->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'reset_system purge launcher'}),
	'the launcher carries on');
ok(!$pre->log_contains(qr/terminating any other active server processes/), 'nothing crashed');
$pre->stop;

done_testing();

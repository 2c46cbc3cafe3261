# Without shared_preload_libraries there is no shared memory to count
# purge workers in; still, a database has at most one.  A burst of
# reset_purge_kick() calls starts one worker, not one per call (which
# would use up max_worker_processes), and once that worker has finished
# and exited, the next kick starts one again.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use ResetSystemTest;

my $node = new_node('single_worker');
$node->start;
label_db($node, 'postgres');
my $root = $node->basedir . '/media';
mkdir $root;
$node->safe_psql('postgres', qq{
	CREATE TABLE media (id serial PRIMARY KEY, file_key text);
	INSERT INTO media (file_key) SELECT 'm/' || g || '.bin' FROM generate_series(1, 10) g;
	CREATE EXTENSION reset_system;
	SELECT reset_register_table('media', 'delete', 'media file', '{file_key}');
	SELECT reset_configure_storage('file', jsonb_build_object('root', '$root'));
});
is($node->safe_psql('postgres', q{SHOW shared_preload_libraries}), '', 'the library is not preloaded');
my $worker = q{backend_type = 'reset_system purge worker'};

# work that stays pending: the worker is paused, and so keeps running
$node->safe_psql('postgres', "LOAD 'reset_system'; ALTER SYSTEM SET reset_system.purge_paused = on");
$node->reload;
$node->safe_psql('postgres', "SELECT reset_execute('RESET-EVERYTHING')");
ok($node->poll_query_until('postgres', "SELECT count(*) = 1 FROM pg_stat_activity WHERE $worker"),
	'the reset started one worker');

# 20 kicks in a row (max_worker_processes is 16), and 20 more from 4 sessions at once
my ($ret, $out, $err) = $node->psql('postgres',
	'SELECT k, count(*) FROM (SELECT reset_purge_kick() AS k FROM generate_series(1, 20)) s GROUP BY k');
is($ret, 0, '20 kicks in a row succeed') or diag $err;
is($out, 'The purge worker of database "postgres" is already running.|20',
	'each finds the running worker');
my @sessions = map {
	IPC::Run::start([ 'psql', '-X', '-At', '-d', $node->connstr('postgres'),
		'-c', 'SELECT reset_purge_kick() FROM generate_series(1, 5)' ], '>', \my $o, '2>', \my $e)
} 1 .. 4;
$_->finish for @sessions;
is((grep { $_->result != 0 } @sessions), 0, '20 kicks from 4 sessions at once succeed');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_stat_activity WHERE $worker"), '1',
	'one worker runs');

# the worker finishes and exits; the next kick starts one again
$node->safe_psql('postgres', "LOAD 'reset_system'; ALTER SYSTEM SET reset_system.purge_paused = off");
$node->reload;
ok(wait_purge_done($node, 'postgres'), 'the purge finishes');
ok($node->poll_query_until('postgres', "SELECT count(*) = 0 FROM pg_stat_activity WHERE $worker"),
	'and the worker exits');
like($node->safe_psql('postgres', 'SELECT reset_purge_kick()'),
	qr/^Started a purge worker for database "postgres"\.$/, 'a later kick starts a worker again');
$node->safe_psql('postgres', "LOAD 'reset_system'; ALTER SYSTEM SET reset_system.purge_paused = on");
$node->reload;
$node->safe_psql('postgres', q{INSERT INTO media (file_key) VALUES ('m/11.bin')});
$node->safe_psql('postgres', "SELECT reset_execute('RESET-EVERYTHING')");
ok($node->poll_query_until('postgres', "SELECT count(*) = 1 FROM pg_stat_activity WHERE $worker"),
	'a new reset has one worker');
($ret, $out, $err) = $node->psql('postgres', 'SELECT DISTINCT reset_purge_kick() FROM generate_series(1, 20)');
is($out, 'The purge worker of database "postgres" is already running.', 'which later kicks find');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_stat_activity WHERE $worker"), '1', 'still one worker');
$node->stop;
done_testing();

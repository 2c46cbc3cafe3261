# The purge worker killed with SIGKILL in the middle of its work (the
# server then restarts every process): afterwards every object is purged,
# each queue row is done exactly once, nothing is left pending.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use ResetSystemTest;

my $node = new_node('kill', preload => 1,
	conf => "reset_system.purge_batch_size = 100\nreset_system.purge_naptime = 2\nrestart_after_crash = on\n");
$node->start;
label_db($node, 'postgres');
my $root = $node->basedir . '/media';
mkdir $root;

my $n = 20000;
$node->safe_psql('postgres', qq{
	CREATE TABLE media (id serial PRIMARY KEY, file_key text);
	INSERT INTO media (file_key) SELECT 'm/' || (g % 200) || '/' || g || '.bin' FROM generate_series(1, $n) g;
	CREATE TABLE owners (id serial PRIMARY KEY, name text);
	CREATE EXTENSION reset_system;
	SELECT reset_register_table('media', 'delete', 'media file', '{file_key}');
	SELECT reset_register_table('owners', 'preserve', 'owner');
	SELECT reset_configure_storage('file', jsonb_build_object('root', '$root'));
});
my $keys = [ split /\n/, $node->safe_psql('postgres', 'SELECT file_key FROM media ORDER BY id') ];
make_files($root, $keys);
is(files_present($root, $keys), $n, "$n files to purge");

$node->safe_psql('postgres', "SELECT reset_execute('RESET-EVERYTHING')");

# let the worker get going, then kill it in the middle
ok($node->poll_query_until('postgres',
	q{SELECT count(*) >= 1000 FROM reset_system.purge_queue WHERE state = 'done'}),
	'the worker is purging');
my $pid = $node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'reset_system purge worker'});
like($pid, qr/^\d+$/, 'the worker is visible in pg_stat_activity');
my $done_before = $node->safe_psql('postgres',
	q{SELECT count(*) FROM reset_system.purge_queue WHERE state = 'done'});
cmp_ok($done_before, '<', $n, 'it has not finished yet');
kill 'KILL', $pid;

# the postmaster restarts all processes; the launcher resumes the purge
ok($node->poll_query_until('postgres',
	q{SELECT NOT EXISTS (SELECT FROM reset_system.purge_queue WHERE state = 'pending')}),
	'after the crash restart the purge resumes and finishes');
ok($node->log_contains(qr/\(PID $pid\) was terminated by signal 9/),
	'the worker was killed');

is($node->safe_psql('postgres', q{
	SELECT count(*) || ' rows, ' || count(DISTINCT key) || ' keys, ' ||
	       count(*) FILTER (WHERE state = 'done') || ' done, ' ||
	       count(*) FILTER (WHERE state <> 'done') || ' not done'
	FROM reset_system.purge_queue}),
	"$n rows, $n keys, $n done, 0 not done", 'every key is done, exactly once');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM reset_system.purge_queue
	WHERE outcome NOT IN ('deleted', 'already gone')}), '0',
	'every outcome is "deleted" or "already gone" (a repeated delete is harmless)');
is(files_present($root, $keys), 0, 'every file is gone');
is($node->safe_psql('postgres', 'SELECT purged || \' \' || purge_failed FROM reset_system.history'),
	"$n 0", 'the history records the whole purge');

$node->stop;
done_testing();

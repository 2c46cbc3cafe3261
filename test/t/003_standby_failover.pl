# A reset on a primary with a streaming-replication standby: the standby
# replays it (same counts), the plan works read-only there while execute
# refuses, no purge worker runs on the standby, and after the standby is
# promoted in the middle of a purge, it finishes that purge: the queue was
# replicated with the data.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use ResetSystemTest;

my $conf = q{
reset_system.purge_naptime = 1s
reset_system.purge_retry_base = 100ms
reset_system.purge_retry_max = 500ms
reset_system.purge_max_attempts = 10000
};
my $primary = new_node('primary', preload => 1, init => { allows_streaming => 1 }, conf => $conf);
$primary->start;
my $root = $primary->basedir . '/media';
setup_app($primary, 'app', $root, 1);
my $deleted = app_keys($primary, 'app', 'deleted');

$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby, 'replay');

my $counts = q{SELECT string_agg(t || '=' || n, ' ' ORDER BY t) FROM (
	SELECT 'submissions' t, count(*) n FROM app.submissions UNION ALL
	SELECT 'runs', count(*) FROM app.validation_runs UNION ALL
	SELECT 'validators', count(*) FROM app.validators UNION ALL
	SELECT 'users', count(*) FROM app.users) c};
is($standby->safe_psql('app', $counts), $primary->safe_psql('app', $counts), 'the standby has the data');

# the plan works read-only on the standby, and says a reset cannot run there
my $plan = $standby->safe_psql('app', 'SELECT reset_plan()');
like($plan, qr/Will DELETE \S+ row\(s\)/, 'the plan is computed on the standby');
like($plan, qr/hot standby/, 'and says the reset cannot run there');
my ($state, $err) = psql_error($standby, 'app', "SELECT reset_execute('RESET-EVERYTHING')");
is($state, '25006', 'execute refuses on the standby');

# the purge will stall on one directory, so that it is half done at the failover
chmod 0555, "$root/reports", glob("$root/reports/*");
$primary->safe_psql('app', "SELECT reset_execute('RESET-EVERYTHING')");
$primary->wait_for_catchup($standby, 'replay');
is($standby->safe_psql('app', $counts), $primary->safe_psql('app', $counts), 'the reset replays on the standby: same counts');
like($standby->safe_psql('app', $counts), qr/submissions=0/, 'the deleted rows are gone there too');

ok($primary->poll_query_until('app', q{SELECT count(*) > 0 FROM reset_system.purge_queue WHERE state = 'done'}),
	'the primary\'s worker purges what it can');
$primary->wait_for_catchup($standby, 'replay');
is($standby->safe_psql('app', q{SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'reset_system%'}), '0',
	'no purge worker or launcher runs on the standby');
my $pending = $standby->safe_psql('app', q{SELECT count(*) FROM reset_system.purge_queue WHERE state = 'pending'});
cmp_ok($pending, '>', 0, "the standby has the queue, $pending object(s) still pending");

# fail over in the middle of the purge
$primary->stop('immediate');
chmod 0755, "$root/reports", glob("$root/reports/*");
$standby->promote;
ok($standby->poll_query_until('app', q{SELECT NOT pg_is_in_recovery()}), 'the standby is promoted');
ok(wait_purge_done($standby, 'app'), 'the new primary finishes the purge by itself');
is($standby->safe_psql('app', q{SELECT count(*) FROM reset_system.purge_queue WHERE state <> 'done'}), '0',
	'every object is done');
is(files_present($root, $deleted), 0, 'every file of a deleted row is gone');
ok($standby->poll_query_until('app', q{SELECT purge_finished_at IS NOT NULL AND purge_failed = 0 FROM reset_system.history}),
	'the history records the finished purge');

$standby->stop;
done_testing();

# The purge queue survives a crash: "pg_ctl stop -m immediate" right after
# the reset commits, before anything is purged.  Preloaded, the launcher
# resumes the purge after the restart by itself; not preloaded, nothing
# happens until a kick, and nothing is purged early.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use ResetSystemTest;

for my $preload (1, 0)
{
	my $mode = $preload ? 'preloaded' : 'not preloaded';
	my $node = new_node($preload ? 'crash_preloaded' : 'crash_on_demand',
		preload => $preload, conf => "reset_system.purge_naptime = 2\n");
	$node->start;
	my $root = $node->basedir . '/media';
	setup_app($node, 'app', $root, 1);
	my $deleted = app_keys($node, 'app', 'deleted');
	my $n = scalar @$deleted;

	# hold the purge back so that the crash comes before it, for sure
	$node->safe_psql('postgres', "LOAD 'reset_system'; ALTER SYSTEM SET reset_system.purge_paused = on");
	$node->reload;
	$node->safe_psql('app', "SELECT reset_execute('RESET-EVERYTHING')");
	$node->stop('immediate');
	is(files_present($root, $deleted), $n, "$mode: nothing was purged before the crash");

	$node->start;
	is($node->safe_psql('app', q{SELECT count(*) FROM reset_system.purge_queue WHERE state = 'pending'}),
		$n, "$mode: the queue survived the crash");

	$node->safe_psql('postgres', "LOAD 'reset_system'; ALTER SYSTEM SET reset_system.purge_paused = off");
	$node->reload;

	if ($preload)
	{
		ok(wait_purge_done($node, 'app'), "$mode: the launcher resumed the purge by itself");
	}
	else
	{
		# wait several naptimes: no worker exists to resume the purge
		sleep 5;
		is($node->safe_psql('app', q{SELECT count(*) FROM reset_system.purge_queue WHERE state = 'pending'}),
			$n, "$mode: without preloading nothing resumes on its own");
		is(files_present($root, $deleted), $n, "$mode: and nothing is purged early");
		like($node->safe_psql('app', 'SELECT reset_purge_kick()'), qr/Started a purge worker for database "app"/,
			"$mode: reset_purge_kick starts a worker");
		ok(wait_purge_done($node, 'app'), "$mode: the kicked worker drains the queue");
	}
	is(files_present($root, $deleted), 0, "$mode: every file of a deleted row is gone");
	is($node->safe_psql('app', q{SELECT string_agg(state || '=' || objects, ' ') FROM reset_purge_status()}),
		"pending=0 done=$n failed=0", "$mode: every queued object is done");

	# and without the pause: crash right after the commit, whatever the
	# worker managed; after the restart (and a kick when not preloaded) the
	# purge completes
	$node->safe_psql('app', 'SELECT app.generate_demo_data(1)');
	make_files($root, app_keys($node, 'app', 'all'));
	$deleted = app_keys($node, 'app', 'deleted');
	$node->safe_psql('app', "SELECT reset_execute('RESET-EVERYTHING')");
	$node->stop('immediate');
	$node->start;
	$node->safe_psql('app', 'SELECT reset_purge_kick()') unless $preload;
	ok(wait_purge_done($node, 'app'), "$mode: after a crash at any moment the purge completes");
	is(files_present($root, $deleted), 0, "$mode: and every file of a deleted row is gone");

	$node->stop;
}

done_testing();

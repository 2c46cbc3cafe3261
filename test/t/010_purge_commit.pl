# The storage purge happens after COMMIT and only then: files of deleted
# rows are gone, files of preserved and rebuilt rows are kept; ROLLBACK,
# ROLLBACK TO SAVEPOINT and a failing rebuild keep every file and leave
# the queue empty.  A registered prefix is purged except the keys still
# referenced, and the directories it leaves empty are removed.
# Run with and without shared_preload_libraries.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use ResetSystemTest;

for my $preload (1, 0)
{
	my $mode = $preload ? 'preloaded' : 'not preloaded';
	my $node = new_node($preload ? 'preloaded' : 'on_demand', preload => $preload);
	$node->start;
	my $root = $node->basedir . '/media';
	setup_app($node, 'app', $root, 2);

	my $deleted = app_keys($node, 'app', 'deleted');
	my $preserved = app_keys($node, 'app', 'preserved');
	my $rebuilt = app_keys($node, 'app', 'rebuilt');
	my $all = [ @$deleted, @$preserved, @$rebuilt ];
	cmp_ok(scalar @$deleted, '>', 400, "$mode: the application references files");

	my $sentinel = $node->basedir . '/sentinel.txt';
	append_to_file($sentinel, "outside the storage root\n");

	my $queue_rows = 'SELECT count(*) FROM reset_system.purge_queue';

	# ROLLBACK
	$node->safe_psql('app', "BEGIN; SELECT reset_execute('RESET-EVERYTHING'); ROLLBACK;");
	is($node->safe_psql('app', $queue_rows), '0', "$mode: ROLLBACK leaves the queue empty");

	# ROLLBACK TO SAVEPOINT, then commit the rest of the transaction
	$node->safe_psql('app', q{
		BEGIN;
		SAVEPOINT s;
		SELECT reset_execute('RESET-EVERYTHING');
		ROLLBACK TO SAVEPOINT s;
		COMMIT;
	});
	is($node->safe_psql('app', $queue_rows), '0', "$mode: ROLLBACK TO SAVEPOINT leaves the queue empty");

	# a failing rebuild step
	$node->safe_psql('app', "SELECT reset_register_rebuild('broken', 'SELECT 1/0')");
	my ($ret) = $node->psql('app', "SELECT reset_execute('RESET-EVERYTHING')");
	isnt($ret, 0, "$mode: the reset with a failing rebuild step fails");
	$node->safe_psql('app', "SELECT reset_unregister_rebuild('broken')");
	is($node->safe_psql('app', $queue_rows), '0', "$mode: a failing rebuild leaves the queue empty");

	sleep 1;    # give a (wrongly) started worker the time to do damage
	is(files_present($root, $all), scalar @$all, "$mode: every file is still there");

	# a prefix: everything under tmp/ goes, except a key a kept row references
	make_files($root, [ 'tmp/a.txt', 'tmp/deep/er/b.txt', 'tmp/deep/c.txt', 'tmp/keep.png', 'tmpfile.txt' ]);
	$node->safe_psql('app', q{
		UPDATE app.users SET avatar_key = 'tmp/keep.png' WHERE id = 1;
		SELECT reset_register_prefix('tmp/');
	});

	# commit: the purge runs
	my $out = $node->safe_psql('app', "SELECT reset_execute('RESET-EVERYTHING')");
	like($out, qr/Queued \d+ storage object\(s\) for purge after commit \(7 kept: still referenced by preserved or rebuilt rows\)/,
		"$mode: the keys of rebuilt rows are not queued");
	# the commit alone starts the purge: poll without kicking the worker
	ok(wait_purge_done($node, 'app'), "$mode: the commit started the purge");
	my $waited = $node->safe_psql('app', "SELECT reset_purge_wait('120 seconds')");
	my $expected = scalar(@$deleted) + 3;    # plus tmp/a.txt, tmp/deep/er/b.txt, tmp/deep/c.txt
	is($waited, "Purged $expected storage object(s).", "$mode: reset_purge_wait reports the purge");

	is(files_present($root, $deleted), 0, "$mode: the files of deleted rows are gone");
	is(files_present($root, [ grep { $_ ne $preserved->[0] } @$preserved ]), scalar(@$preserved) - 1,
		"$mode: the files of preserved rows are kept");
	is(files_present($root, $rebuilt), scalar @$rebuilt, "$mode: the files of rebuilt rows are kept");
	ok(-e "$root/tmp/keep.png", "$mode: a key under the prefix that a kept row references is kept");
	ok(!-e "$root/tmp/a.txt" && !-e "$root/tmp/deep/er/b.txt" && !-e "$root/tmp/deep/c.txt",
		"$mode: the other objects under the prefix are gone");
	ok(!-d "$root/tmp/deep", "$mode: directories left empty under the prefix are removed");
	ok(-d "$root/tmp", "$mode: the prefix's own directory stays");
	ok(-e "$root/tmpfile.txt", "$mode: a file beside the prefix is not under it");
	is(slurp_file($sentinel), "outside the storage root\n", "$mode: nothing outside the root was touched");

	is($node->safe_psql('app', q{
		SELECT string_agg(state || '=' || objects, ' ') FROM reset_purge_status()}),
		'pending=0 done=' . ($expected + 1) . ' failed=0',
		"$mode: reset_purge_status counts every object (the kept one included)");
	is($node->safe_psql('app', q{
		SELECT purge_objects || ' ' || purged || ' ' || purge_failed || ' ' || (purge_finished_at IS NOT NULL)
		FROM reset_system.history ORDER BY id DESC LIMIT 1}),
		($expected + 1) . " $expected 0 true",
		"$mode: the history row records the purge (objects listed under the prefix, the kept one included, count as objects)");
	ok($node->log_contains(qr/purge of reset \d+ finished: $expected object\(s\) purged, 0 failed/),
		"$mode: the server log records the purge");

	# the worker is gone once there is nothing left to do
	ok($node->poll_query_until('app',
		q{SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'reset_system purge worker'}),
		"$mode: the worker exits when the queue is drained");

	$node->stop;
}

done_testing();

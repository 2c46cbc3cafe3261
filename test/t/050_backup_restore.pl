# Backup, restore and the undo window, on a real server with its purge
# worker: every column type and table kind round-trips (per-table
# checksums of ordered rows, sequences included); a restore within
# reset_system.purge_delay purges nothing; a restore after part of the
# purge says exactly how many objects are gone; a dropped table is refused
# and left out with exclude; reset_system.backup_keep drops the right
# schemas; a failed restore changes nothing; guards and privileges apply.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use ResetSystemTest;

my $node = new_node('backup', preload => 1, conf => q{
reset_system.purge_retry_base = 100ms
reset_system.purge_retry_max = 300ms
reset_system.purge_max_attempts = 1000
reset_system.purge_naptime = 1s
});
$node->start;
my $db = 'app';
$node->safe_psql('postgres', "CREATE DATABASE $db");
label_db($node, $db);
my $root = $node->basedir . '/media';
mkdir $root;
$node->safe_psql($db, slurp_file('test/fixtures/all_types.sql'));
$node->safe_psql($db, qq{
	SELECT typed.fill();
	CREATE EXTENSION reset_system;
	SELECT reset_register_table('typed.everything', 'delete', 'row', '{c_file}');
	SELECT reset_register_table('typed.parent', 'delete', 'parent');
	SELECT reset_register_table('typed.self_ref', 'delete', 'self reference');
	SELECT reset_register_table('typed.events', 'delete', 'event');
	SELECT reset_register_table('typed.base', 'delete', 'base row');
	SELECT reset_register_table('typed.users', 'preserve', 'user', '{avatar}');
	SELECT reset_register_rebuild('baseline parent', 'SELECT typed.seed()');
	SELECT reset_configure_storage('file', jsonb_build_object('root', '$root'));
});
my $q = sub { $node->safe_psql($db, $_[0]) };
my $files = [ map { 'files/' . ($_ % 3) . "/$_.bin" } 1 .. 300 ];
my $checksums = sub { $q->(q{SELECT string_agg(item || ' ' || checksum, E'\n') FROM typed.checksums()}) };

sub refill
{
	$q->('SELECT typed.fill()');
	make_files($root, $files);
	return $checksums->();
}
sub last_reset { $q->('SELECT max(id) FROM reset_system.history') }

# ---- the round trip, within the purge delay ---------------------------------
my $before = refill();
my $out = $q->(q{SET reset_system.purge_delay = '1h'; SELECT reset_execute('RESET-EVERYTHING', backup => true)});
like($out, qr/^Backed up 512 row\(s\) of 7 table\(s\) into schema reset_backup_1 \(/, 'the backup is the first thing the reset does');
like($out, qr/The storage purge starts 1 hour after commit/, 'and the purge is held for an hour');
is($q->('SELECT count(*) FROM typed.everything'), 0, 'the rows are gone');
ok($node->poll_query_until($db, q{SELECT count(*) = 300 FROM reset_system.purge_queue
	WHERE state = 'pending' AND hold_for IS NULL AND next_attempt_at > now() + interval '50 minutes'}),
	'after the commit the worker schedules the purge an hour later');
like($q->('SELECT purge FROM reset_backups()'), qr/^300 object\(s\) pending, first at /, 'reset_backups shows when the purge starts');
is(files_present($root, $files), 300, 'nothing is purged within the delay');

my $plan = $q->('SELECT reset_restore_plan(1)');
like($plan, qr/Will RESTORE 512 row\(s\) into 7 table\(s\), replacing the 1 row\(s\) there now:/, 'the restore plan counts the rows');
like($plan, qr/Storage: 0 object\(s\) of that reset already purged.*300 purge\(s\) still pending or failed will be cancelled/,
	'and the storage state');
$out = $q->(q{SELECT reset_restore(1, 'RESTORE-EVERYTHING')});
like($out, qr/Restored 300 row\(s\) of typed.everything \(replaced 0\)\./, 'the restore reports per table');
like($out, qr/Restored 5 row\(s\) of typed.parent \(replaced 1\)\./, 'including the rebuilt rows it replaced');
like($out, qr/Restored 3 sequence\(s\)\./, 'and the sequences');
is($checksums->(), $before, 'every table and sequence is identical to before the reset (ordered-row checksums)');
is($q->(q{SELECT count(*) FROM reset_system.purge_queue WHERE reset_id = 1 AND outcome = 'cancelled: restored'}), 300,
	'the held purge is cancelled');
is(files_present($root, $files), 300, 'and every file is still there');
is($q->(q{SELECT nextval('typed.everything_id_seq')}), 301, 'the sequences continue where they were');
$q->(q{SELECT setval('typed.everything_id_seq', 300)});

# ---- a restore after part of the purge ----------------------------------------
# the server may not delete in one of the three directories: those deletes
# keep failing (and are retried) while the others go through
$before = refill();
chmod 0555, "$root/files/0";
$q->(q{SELECT reset_execute('RESET-EVERYTHING', backup => true)});
my $rid = last_reset();
ok($node->poll_query_until($db, qq{SELECT count(*) = 200 FROM reset_system.purge_queue WHERE reset_id = $rid AND state = 'done'}),
	'two thirds of the purge go through');
ok($node->poll_query_until($db, qq{SELECT bool_and(attempts > 0) FROM reset_system.purge_queue
	WHERE reset_id = $rid AND state = 'pending'}), 'the rest keeps being retried');
my $gone_on_disk = 300 - files_present($root, $files);
is($gone_on_disk, 200, '200 files are gone from the disk');
my ($ret, $o, $err) = $node->psql($db, qq{SELECT reset_restore($rid, 'RESTORE-EVERYTHING')});
is($ret, 0, 'the restore runs');
my ($reported) = $err =~ /WARNING:  (\d+) storage object\(s\) of reset $rid were already purged/;
is($reported, 200, 'and warns that exactly 200 storage objects are already gone') or diag $err;
is($q->(qq{SELECT objects_already_purged || ' ' || objects_cancelled FROM reset_system.restores WHERE reset_id = $rid}),
	'200 100', 'the restore record has the same counts, and the 100 cancelled');
is($q->(qq{SELECT count(*) FROM reset_system.purge_queue WHERE reset_id = $rid AND state IN ('pending', 'failed')}), 0,
	'the rest of the purge is cancelled');
chmod 0755, "$root/files/0";
sleep 1;
is(300 - files_present($root, $files), 200, 'and no file is deleted after the restore');
is($checksums->(), $before, 'the rows are back as they were');

# ---- a table dropped by a new schema: refused, then left out ---------------------
$before = refill();
$q->(q{SELECT reset_execute('RESET-EVERYTHING', backup => true)});
$rid = last_reset();
$q->(q{DROP TABLE typed.self_ref});
($ret, $o, $err) = $node->psql($db, qq{SELECT reset_restore($rid, 'RESTORE-EVERYTHING')});
like($err, qr/ERROR:  the backup of reset $rid does not match the database now: table typed.self_ref no longer exists/,
	'a backed-up table that no longer exists is refused');
like($err, qr/HINT:  Restore the other tables with SELECT reset_restore\($rid, 'RESTORE-EVERYTHING', exclude => ARRAY\['typed.self_ref'\]\);/,
	'the hint shows how to leave it out');
is($q->('SELECT count(*) FROM typed.everything'), 0, 'nothing was restored');
$out = $q->(qq{SELECT reset_restore($rid, 'RESTORE-EVERYTHING', exclude => ARRAY['typed.self_ref'])});
like($out, qr/Left typed.self_ref as it is \(exclude\)\./, 'with exclude the others are restored');
my %now = map { split / /, $_, 2 } split /\n/, $checksums->();
my %then = map { split / /, $_, 2 } split /\n/, $before;
is_deeply([ map { $now{$_} } grep { $_ ne 'self_ref' } sort keys %then ],
	[ map { $then{$_} } grep { $_ ne 'self_ref' } sort keys %then ], 'identical, table by table');
$q->(q{CREATE TABLE typed.self_ref (id integer PRIMARY KEY, parent integer REFERENCES typed.self_ref);
	SELECT reset_register_table('typed.self_ref', 'delete', 'self reference')});

# ---- a restore that fails changes nothing ------------------------------------------
refill();
$q->(q{SELECT reset_execute('RESET-EVERYTHING', backup => true)});
$rid = last_reset();
my $after_reset = $checksums->();
my $queue = $q->(qq{SELECT string_agg(state || hold_for::text, ',') FROM reset_system.purge_queue WHERE reset_id = $rid});
$q->(q{CREATE FUNCTION typed.no_event_42() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN IF NEW.payload = 'event 42' THEN RAISE EXCEPTION 'event 42 refused'; END IF; RETURN NEW; END $$;
	CREATE TRIGGER no_event_42 BEFORE INSERT ON typed.events_2025 FOR EACH ROW EXECUTE FUNCTION typed.no_event_42()});
($ret, $o, $err) = $node->psql($db, qq{SELECT reset_restore($rid, 'RESTORE-EVERYTHING')});
like($err, qr/event 42 refused/, 'a restore can fail half-way (an INSERT trigger refuses a row)');
is($checksums->(), $after_reset, 'and then changes nothing: every table and sequence as before it');
is($q->(qq{SELECT string_agg(state || hold_for::text, ',') FROM reset_system.purge_queue WHERE reset_id = $rid}), $queue,
	'the purge queue is untouched');
is($q->(qq{SELECT count(*) FROM reset_system.restores WHERE reset_id = $rid}), 0, 'no restore is recorded');
like($q->(qq{SELECT outcome || ': ' || reason FROM reset_history() WHERE reset_id = $rid ORDER BY at DESC LIMIT 1}),
	qr/^restore failed: event 42 refused/, 'the attempt is in the history');
$q->(q{DROP TRIGGER no_event_42 ON typed.events_2025});

# ---- guards ---------------------------------------------------------------------------
label_db($node, $db, 'production');
($ret, $o, $err) = $node->psql($db, qq{SELECT reset_restore($rid, 'RESTORE-EVERYTHING')});
like($err, qr/protected/, 'a restore in a protected environment is refused');
$q->(q{SELECT reset_unlock('5 minutes')});
$out = $q->(qq{SELECT reset_restore($rid, 'RESTORE-EVERYTHING')});
like($out, qr/Used the unlock of environment "production"; it is locked again\./, 'an unlock allows one restore');
label_db($node, $db, 'test');
$q->("LOAD 'reset_system'; ALTER SYSTEM SET reset_system.allow_reset = off");
$node->reload;
($ret, $o, $err) = $node->psql($db, qq{SELECT reset_restore($rid, 'RESTORE-EVERYTHING')});
like($err, qr/resets are disabled on this server/, 'the kill switch stops restores too');
$q->("ALTER SYSTEM RESET reset_system.allow_reset");
$node->reload;

# an operator without INSERT on a table
$q->(q{CREATE ROLE operator LOGIN; SELECT count(*) FROM reset_grant_operator('operator');
	GRANT USAGE ON SCHEMA typed TO operator;
	GRANT SELECT, INSERT, DELETE ON ALL TABLES IN SCHEMA typed TO operator;
	REVOKE INSERT ON typed.parent FROM operator});
($ret, $o, $err) = $node->psql($db, qq{SELECT reset_restore($rid, 'RESTORE-EVERYTHING')},
	extra_params => [ '-U', 'operator' ]);
like($err, qr/permission denied to restore table typed.parent\n.*\nHINT:  GRANT SELECT, INSERT, DELETE ON typed.parent TO operator;/,
	'the caller\'s own privileges on every table are required, and named');

# ---- retention ---------------------------------------------------------------------------
$q->("ALTER SYSTEM SET reset_system.backup_keep = 2");
$node->reload;
my @ids;
for (1 .. 3)
{
	refill();
	$out = $q->(q{SELECT reset_execute('RESET-EVERYTHING', backup => true)});
	push @ids, last_reset();
}
like($out, qr/Dropped the backup of reset \d+ \(reset_system.backup_keep = 2\)\./, 'a reset reports the backups it drops');
is($q->(q{SELECT string_agg(nspname, ',' ORDER BY nspname) FROM pg_namespace WHERE nspname LIKE 'reset_backup_%'}),
	join(',', sort map { "reset_backup_$_" } @ids[1, 2]), 'only the two newest backup schemas remain');
is($q->(q{SELECT count(*) FROM reset_backups() WHERE dropped_at IS NULL}), 2, 'reset_backups agrees');
($ret, $o, $err) = $node->psql($db, qq{BEGIN; SELECT reset_execute('RESET-EVERYTHING', backup => true); ROLLBACK});
is($q->(q{SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'reset_backup_%'}), 2,
	'a reset that rolls back drops nothing');

$node->stop;
done_testing();

# A storage delete that keeps failing is retried with exponential backoff
# and jitter, then marked failed with the reason (never dropped).  Once the
# cause is fixed, reset_purge_retry() queues it again and it completes.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use ResetSystemTest;

my $node = new_node('retry', conf => q{
reset_system.purge_max_attempts = 4
reset_system.purge_retry_base = 200ms
reset_system.purge_retry_max = 1s
});
$node->start;
my $root = $node->basedir . '/media';
setup_app($node, 'app', $root, 1);
my $deleted = app_keys($node, 'app', 'deleted');
my $n = scalar @$deleted;

# the server may no longer delete anything in these directories
my @locked = grep { -d } map { "$root/$_" } qw(uploads/submissions reports uploads/rules);
my @dirs;
for my $top (@locked)
{
	push @dirs, $top, grep { -d } glob("$top/*");
}
chmod 0555, @dirs;

$node->safe_psql('app', "SELECT reset_execute('RESET-EVERYTHING')");
ok(wait_purge_done($node, 'app'), 'the worker gives up in the end');

my $status = $node->safe_psql('app',
	q{SELECT string_agg(state || '=' || objects, ' ') FROM reset_purge_status()});
is($status, "pending=0 done=0 failed=$n", 'every object ends failed, none is dropped');
is($node->safe_psql('app', q{SELECT DISTINCT attempts FROM reset_system.purge_queue}),
	'4', 'each was tried reset_system.purge_max_attempts times');
like($node->safe_psql('app', q{SELECT last_error FROM reset_purge_status() WHERE state = 'failed'}),
	qr/^gave up after 4 attempt\(s\): cannot delete ".+": Permission denied \($n object\(s\) failed the same way\)$/,
	'the failure keeps the reason, and says how many objects share it');

# the server log says it as a local-disk failure: one WARNING per round,
# with the errno text, the path and the count sharing it
my $log = slurp_file($node->logfile);
my @warnings = $log =~ /WARNING:  (reset_system: purge of reset 1: [^\n]*)\n[^\n]*DETAIL:  ([^\n]*)/g;
cmp_ok(scalar @warnings, '>=', 2, 'the worker warned while the deletes kept failing');
like($warnings[0], qr/^reset_system: purge of reset 1: none of the \d+ file\(s\) of the round could be deleted from directory \S+; waiting \d+ ms before the next round$/,
	'as files of a directory that could not be deleted, with the wait before the next round');
like($warnings[1], qr/^First error: cannot delete "[^"]+": Permission denied \(\d+ file\(s\) failed the same way\)\.$/,
	'with the first error and how many failed the same way');
unlike($log, qr/request\(s\)|storm/, 'never as requests a server asked to retry');

# backoff: the three waits are at least half of 200 + 400 + 800 ms (jitter
# only ever shortens a delay by up to half), so the last attempt came no
# sooner than 700 ms after the first
cmp_ok($node->safe_psql('app',
	q{SELECT min(extract(epoch FROM done_at - created_at)) FROM reset_system.purge_queue}),
	'>=', 0.7, 'the retries were spaced out with exponential backoff');
is(files_present($root, $deleted), $n, 'the files are still there');

my ($ret, $out, $err) = $node->psql('app', "SELECT reset_purge_wait('10 seconds')",
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/RS004: purge of reset 1 finished with $n failed object\(s\)/,
	'reset_purge_wait reports the failures (SQLSTATE RS004)');
like($err, qr/HINT:.*reset_purge_retry\(\)/, 'and says how to retry');
is($node->safe_psql('app', 'SELECT purged || \' \' || purge_failed FROM reset_system.history'),
	"0 $n", 'the history records the failed purge');

# fix the cause and retry
chmod 0755, @dirs;
is($node->safe_psql('app', 'SELECT reset_purge_retry()'), $n, 'reset_purge_retry queues them again');
is($node->safe_psql('app', "SELECT reset_purge_wait('60 seconds')"), "Purged $n storage object(s).",
	'and the purge completes');
is(files_present($root, $deleted), 0, 'the files are gone');
is($node->safe_psql('app', 'SELECT purged || \' \' || purge_failed FROM reset_system.history'),
	"$n 0", 'the history is updated');

$node->stop;
done_testing();

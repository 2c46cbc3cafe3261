# reset_purge_wait() polls the queue ten times a second, for as long as
# its timeout allows.  Its memory stays flat however long it waits: each
# poll's memory, SPI tuple tables included, is freed before the next.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use ResetSystemTest;

my $node = new_node('purge_wait_memory');
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

# a purge that does not finish: the worker is paused
$node->safe_psql('postgres', "LOAD 'reset_system'; ALTER SYSTEM SET reset_system.purge_paused = on");
$node->reload;
$node->safe_psql('postgres', "SELECT reset_execute('RESET-EVERYTHING')");

# a session waits for it, for longer than the samples take
my ($out, $err) = ('', '');
my $waiter = IPC::Run::start(
	[ 'psql', '-X', '-d', $node->connstr('postgres') . ' application_name=purge_waiter',
	  '-c', "SELECT reset_purge_wait('30 seconds')" ],
	'>', \$out, '2>', \$err);
ok($node->poll_query_until('postgres',
	q{SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'purge_waiter' AND query LIKE '%reset_purge_wait%'}),
	'a session waits for the purge');
my $pid = $node->safe_psql('postgres', q{SELECT pid FROM pg_stat_activity WHERE application_name = 'purge_waiter'});

# grand_total(): the waiting backend's memory, as it logs it itself
sub grand_total
{
	my $offset = -s $node->logfile;
	$node->safe_psql('postgres', "SELECT pg_log_backend_memory_contexts($pid)");
	my $total;
	for (1 .. 100)
	{
		my $log = substr(slurp_file($node->logfile), $offset);
		if ($log =~ /logging memory contexts of PID $pid.*?Grand total: (\d+) bytes/s)
		{
			$total = $1;
			last;
		}
		sleep 0.1;
	}
	return $total;
}

sleep 3;
my $first = grand_total();
sleep 15;
my $second = grand_total();
ok(defined $first && defined $second, 'the waiting backend logged its memory twice');
my $growth = $second - $first;
note "memory of the waiting backend: $first bytes, 15 s later $second bytes ($growth bytes more)";
cmp_ok($growth, '<', 64 * 1024, 'about 150 polls later its memory has not grown (old code: +8 KB a poll)');

$waiter->finish;
like($err, qr/purge of reset 1 is not finished after/, 'the wait then times out as it should');
$node->stop;
done_testing();

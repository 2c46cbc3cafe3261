# The audit trail and notifications of a reset:
# - every attempt writes one structured server-log line, and a refused
#   attempt reaches reset_system.attempts even though its transaction
#   rolled back (copied by the worker from the journal, not by a query);
# - a committed reset sends NOTIFY reset_system with a JSON payload, and
#   the end of its purge another;
# - reset_system.webhook_url receives a JSON message (with "text") for a
#   committed reset, a refusal in a protected environment and a finished
#   purge, retried when the receiver fails;
# - reset_system.terminate_blockers ends the sessions in a reset's way.
use strict;
use warnings;

use IO::Socket::INET;
use IPC::Run;
use JSON::PP;
use POSIX ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use ResetSystemTest;

# ---- a local webhook receiver: the first request gets HTTP 500 ----------
my $listener = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
	Proto => 'tcp', Listen => 10, ReuseAddr => 1) or die "listen: $!";
my $port = $listener->sockport;
my $received = PostgreSQL::Test::Utils::tempdir() . '/webhook.log';
my $child = fork();
die "fork: $!" unless defined $child;
if ($child == 0)
{
	# the listener never holds the test's output (prove reads it to the
	# end); ResetSystemTest ends it when the test ends, however it ends
	open STDOUT, '>', '/dev/null';
	my $n = 0;
	while (my $c = $listener->accept)
	{
		my ($len, $line) = (0);
		while (defined($line = <$c>) && $line ne "\r\n")
		{
			$len = $1 if $line =~ /^Content-Length:\s*(\d+)/i;
		}
		my $body = '';
		read($c, $body, $len) if $len;
		$n++;
		my $status = $n == 1 ? '500 Internal Server Error' : '200 OK';
		open my $fh, '>>', $received or die;
		print $fh "$status $body\n";
		close $fh;
		print $c "HTTP/1.1 $status\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
		close $c;
	}
	POSIX::_exit(0);
}
close $listener;

my $node = new_node('audit', conf => qq{
reset_system.webhook_url = 'http://127.0.0.1:$port/hook'
reset_system.purge_retry_base = 100ms
reset_system.purge_retry_max = 300ms
});
$node->start;
my $root = $node->basedir . '/media';
setup_app($node, 'app', $root, 1);

# ---- a refusal: log line, and a row in attempts without anyone asking ----
my ($ret, $out, $err) = $node->psql('app',
	"BEGIN; SELECT reset_execute('reset-everything'); ROLLBACK;");
like($err, qr/confirmation phrase does not match/, 'a wrong phrase is refused');
ok($node->log_contains(qr/reset_system attempt: outcome="refused" database="app" environment="test" role="\w+" session_role="\w+" application="[^"]*" client="\[local\]" xid="" reset_id="0" rows="-1" sqlstate="RS001" reason="confirmation phrase does not match"/),
	'the server log has one structured line for the attempt');
ok($node->poll_query_until('app',
	q{SELECT count(*) = 1 FROM reset_system.attempts WHERE outcome = 'refused' AND sqlstate = 'RS001'}),
	'the purge worker copied the attempt into reset_system.attempts');

# ---- NOTIFY for a committed reset --------------------------------------
my $token = $node->safe_psql('app', q{SELECT reset_plan_json() ->> 'token'});
($ret, $out, $err) = $node->psql('app', qq{
	LISTEN reset_system;
	SELECT reset_execute('RESET-EVERYTHING', '$token') IS NOT NULL;
	SELECT 1;});
my ($payload) = $out =~ /Asynchronous notification "reset_system" with payload "(\{.*?\})" received/;
ok(defined $payload, 'LISTEN reset_system receives a notification at commit');
my $note = decode_json($payload // '{}');
is($note->{event}, 'reset', 'event: reset');
is($note->{database}, 'app', 'database');
is($note->{environment}, 'test', 'environment');
is($note->{token}, $token, 'the plan token');
is($note->{rows_deleted}, 1273, 'the number of rows deleted');
is($note->{tables}{'app.submissions'}, 120, 'counts per table');
like($note->{text}, qr/^reset_system: database "app" \(test\) was reset by \w+: 1,273 row\(s\) deleted in 7 table\(s\)/,
	'a line of text for people');

# ---- NOTIFY when the purge finishes (a session listening meanwhile) ----
my ($in, $lout, $lerr) = ('', '', '');
my $h = IPC::Run::start([ 'psql', '-XAtq', '-d', $node->connstr('app') ],
	'<', \$in, '>', \$lout, '2>', \$lerr);
$in .= "LISTEN reset_system;\nSELECT 'listening';\n";
$h->pump until $lout =~ /listening/;
$node->safe_psql('app', 'SELECT app.generate_demo_data(1)');
make_files($root, app_keys($node, 'app', 'all'));
$node->safe_psql('app', "SELECT reset_execute('RESET-EVERYTHING')");
ok(wait_purge_done($node, 'app'), 'the purge finishes');
my $deadline = time + 60;
until ($lout =~ /purge_finished/ || time > $deadline)
{
	$in .= "SELECT 1;\n";
	$h->pump_nb;
	sleep 0.2;
}
$in .= "\\q\n";
$h->finish;
my $last_reset = $node->safe_psql('app', 'SELECT max(id) FROM reset_system.history');
my ($pnote) = grep { $_->{event} eq 'purge_finished' && $_->{reset_id} == $last_reset }
  map { decode_json($_) }
  $lout =~ /Asynchronous notification "reset_system" with payload "(\{.*?\})" received/g;
ok(defined $pnote, 'a listening session is told when the purge of the reset finishes');
$pnote //= {};
is($pnote->{database}, 'app', 'in which database');
cmp_ok($pnote->{purged}, '>', 400, 'with the number of objects purged');
is($pnote->{failed}, 0, 'and of failures');

# ---- a refusal in a protected environment ------------------------------
$node->safe_psql('postgres', q{CREATE DATABASE prod});
label_db($node, 'prod', 'production');
$node->safe_psql('prod', q{
	CREATE EXTENSION reset_system;
	CREATE TABLE t (id int);
	SELECT reset_register_table('t', 'delete');});
($ret, $out, $err) = $node->psql('prod', "SELECT reset_execute('RESET-EVERYTHING')");
like($err, qr/environment "production" is protected and locked/, 'production is locked');

# ---- the webhook got all of it, the first one after a retry ------------
ok($node->poll_query_until('app',
	q{SELECT count(*) = 0 FROM reset_system.notifications WHERE state = 'pending'}),
	'the webhook messages of database app are delivered');
ok($node->poll_query_until('prod',
	q{SELECT count(*) = 1 FROM reset_system.notifications WHERE state = 'done'}),
	'and the one of database prod');
my @lines = split /\n/, slurp_file($received);
my @events = map { my ($s, $b) = /^(\d+)[^{]*(\{.*\})$/; [ $s, decode_json($b) ] } @lines;
is($events[0][0], 500, 'the receiver failed the first request');
my $canon = JSON::PP->new->canonical;
ok((grep { $_->[0] == 200 && $canon->encode($_->[1]) eq $canon->encode($events[0][1]) } @events[1 .. $#events]),
	'the same message came again later and was accepted');
my %got = map { $_->[0] == 200 ? ($_->[1]{event} => $_->[1]) : () } @events;
ok($got{reset} && $got{purge_finished} && $got{refused}, 'messages: reset, purge_finished, refused');
like($got{refused}{text}, qr/^reset_system: REFUSED a reset of database "prod" \(production\) by \w+: environment "production" is protected and locked$/,
	'the refusal in production says what happened');
is($node->safe_psql('app', q{SELECT max(attempts) FROM reset_system.notifications}), '2',
	'the retried message took two attempts');

# ---- terminate_blockers -------------------------------------------------
$node->safe_psql('app', 'SELECT app.generate_demo_data(1)');
my ($bin, $bout, $berr) = ('', '', '');
my $holder = IPC::Run::start([ 'psql', '-XAtq', '-d', $node->connstr('app') ],
	'<', \$bin, '>', \$bout, '2>', \$berr);
$bin .= "BEGIN;\nSELECT pg_backend_pid();\nSELECT count(*) FROM app.submissions;\n";
$holder->pump until $bout =~ /^(\d+)\n\d+\n/;
my ($holder_pid) = $bout =~ /^(\d+)/;
my $plan = $node->safe_psql('app', 'SELECT reset_plan()');
like($plan, qr/session pid $holder_pid \(user "\w+", application "[^"]*", idle in transaction, transaction open for [0-9:]+\) holds AccessShareLock on .*app\.submissions/,
	'the plan warns about the session holding a lock');
$out = $node->safe_psql('app', q{
	SET reset_system.lock_timeout = '500ms';
	SET reset_system.terminate_blockers = on;
	SELECT reset_execute('RESET-EVERYTHING');});
like($out, qr/^Terminated session pid $holder_pid \(user "\w+", application "[^"]*", idle in transaction\) that held AccessShareLock on [^\n]*app\.submissions/m,
	'with terminate_blockers the reset ends the session in its way, and says so');
like($out, qr/Reset done; it takes effect when this transaction commits\.$/, 'and completes');
is($node->safe_psql('app', q{SELECT array_length(terminated, 1) FROM reset_system.history ORDER BY id DESC LIMIT 1}),
	'1', 'the history records the terminated session');
$bin .= "SELECT 1;\n";
eval { $holder->finish; };
like($berr, qr/terminating connection due to administrator command|server closed the connection/,
	'the holder was disconnected');

$node->stop;
kill 'TERM', $child;
waitpid($child, 0);
done_testing();

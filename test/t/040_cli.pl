# reset-system, the command-line tool, against a real throwaway cluster:
# the preview, the phrase, jobs without a terminal (stdin closed, stdin a
# pipe that never ends: it never prompts and never reads), a person at a
# pseudo-terminal typing the phrase again (or not), a plan that changes
# while the person reads it, --json, --wait, and the exit code of every
# refusal, failure and timeout.
use strict;
use warnings;

use IPC::Run ();
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use ResetSystemTest;

my $node = new_node('cli', conf => q{
reset_system.purge_retry_base = 100ms
reset_system.purge_retry_max = 200ms
});
$node->start;
my $root = load_store($node, 'postgres');
$node->safe_psql('postgres', q{
	SELECT reset_register_table('store.orders', 'delete', 'order');
	SELECT reset_register_table('store.order_items', 'delete', 'order item');
	SELECT reset_register_table('store.coupons', 'delete', 'coupon');
	SELECT reset_register_table('store.products', 'delete', 'product', '{image_key}');
	SELECT reset_register_table('store.accounts', 'preserve', 'account');
	SELECT reset_register_rebuild('baseline product', 'SELECT store.seed_products()');
});
my $connstr = $node->connstr('postgres');
my $images = [ map { "img/p$_.png" } 1 .. 5 ];

sub refill
{
	$node->safe_psql('postgres', 'SELECT store.refill()');
	make_files($root, $images);
	return $node->safe_psql('postgres', 'SELECT store.fingerprint()');
}
sub fingerprint { $node->safe_psql('postgres', 'SELECT store.fingerprint()') }

# cli(STDIN, ARGS...): run the tool on the test database; returns (exit
# code, stdout, stderr).  STDIN undef: stdin closed.
sub cli
{
	my ($stdin, @args) = @_;
	my ($out, $err) = ('', '');
	my @redirect = defined $stdin ? ('<', \$stdin) : (init => sub { close STDIN });
	IPC::Run::run([ 'reset-system', @args ], @redirect, '>', \$out, '2>', \$err,
		IPC::Run::timeout(120));
	return ($? >> 8, $out, $err);
}

# ---- preview --------------------------------------------------------------
my $before = refill();
my ($rc, $out, $err) = cli('', $connstr);
is($rc, 0, 'no phrase: preview, exit 0');
like($out, qr/^reset_system plan \(dry run: nothing was changed\)/, 'it prints the plan');
like($out, qr/Will DELETE 147 row\(s\) in 4 table\(s\)/, 'with what it would delete');
like($out, qr/To execute this plan: reset-system --confirm RESET-EVERYTHING '\Q$connstr\E'/,
	'and the exact command that runs it');
is(fingerprint(), $before, 'nothing changed');

($rc, $out, $err) = cli('', '--confirm', 'RESET-EVERYTHING', '--dry-run', $connstr);
is($rc, 0, '--dry-run with the phrase: still a preview');
like($out, qr/--dry-run: nothing was changed\./, 'and says so');
is(fingerprint(), $before, 'nothing changed');

# ---- the phrase --------------------------------------------------------------
($rc, $out, $err) = cli('', '--confirm', 'reset-everything', $connstr);
is($rc, 3, 'a wrong phrase exits 3');
like($err, qr/reset-system: error: confirmation phrase does not match\nDETAIL:  .*Nothing was changed\./,
	"with the server's message");
is(fingerprint(), $before, 'nothing changed');

# ---- jobs: no terminal, never a prompt, never a read ---------------------------
($rc, $out, $err) = cli(undef, '--confirm', 'RESET-EVERYTHING', $connstr);
is($rc, 0, 'stdin closed: the reset runs');
like($out, qr/Running this plan \(token [0-9a-f]{16}\) in one transaction:\nDeleted 2 coupon row\(s\)\.\n.*System reset complete\.\n\z/s,
	'the report ends with "System reset complete."');
unlike($out, qr/takes effect when this transaction commits/,
	"the server's line said before COMMIT is replaced by the tool's, said after it");
unlike($err, qr/Type RESET-EVERYTHING/, 'no prompt');
isnt(fingerprint(), $before, 'the database was reset');

refill();
{
	# a pipe that is never closed: reading it would block until the timeout
	my ($in, $o, $e) = ('', '', '');
	my $h = IPC::Run::start([ 'reset-system', '--confirm', 'RESET-EVERYTHING', $connstr ],
		'<', \$in, '>', \$o, '2>', \$e, IPC::Run::timeout(60));
	$h->finish;
	is($h->result(0), 0, 'stdin an open pipe: the reset runs without reading it');
	unlike($e, qr/Type RESET-EVERYTHING/, 'and without a prompt');
}

# ---- a person at a terminal ------------------------------------------------------
# pty(ANSWER, BEFORE_ANSWER): run with stdin a pseudo-terminal, wait for the
# question, optionally do something, type ANSWER
sub pty
{
	my ($answer, $meanwhile) = @_;
	my ($in, $o, $e) = ('', '', '');
	my $t = IPC::Run::timeout(60);
	my $h = IPC::Run::start([ 'reset-system', '--confirm', 'RESET-EVERYTHING', $connstr ],
		'<pty<', \$in, '>', \$o, '2>', \$e, $t);
	$h->pump until $e =~ /Type RESET-EVERYTHING to go ahead/ || $t->is_expired;
	my $asked = $e;
	$meanwhile->() if $meanwhile;
	$in .= "$answer\n";
	$h->finish;
	return ($h->result(0), $o, $e, $asked);
}
$before = refill();
my $asked;
($rc, $out, $err, $asked) = pty('RESET-EVERYTHING');
like($asked, qr/This deletes 147 row\(s\) in database "postgres" on .* \(environment "test"\)\.\nType RESET-EVERYTHING to go ahead/,
	'on a terminal it asks for the phrase again, naming the database and environment');
is($rc, 0, 'typed again: the reset runs');
like($out, qr/System reset complete\.\n\z/, 'and completes');

$before = refill();
($rc, $out, $err) = pty('yes');
is($rc, 3, 'anything else typed: exit 3');
like($err, qr/the phrase typed does not match RESET-EVERYTHING\nDETAIL:  Nothing was changed\./, 'with a clear message');
is(fingerprint(), $before, 'nothing changed');

{
	my ($in, $o, $e) = ('', '', '');
	my $h = IPC::Run::start([ 'reset-system', '--confirm', 'RESET-EVERYTHING', '--noinput', $connstr ],
		'<pty<', \$in, '>', \$o, '2>', \$e, IPC::Run::timeout(60));
	$h->finish;
	is($h->result(0), 0, '--noinput on a terminal: no question, the reset runs');
	unlike($e, qr/Type RESET-EVERYTHING/, 'no prompt');
}

# the plan changes while the person reads it: what was shown is what runs, or nothing
$before = refill();
($rc, $out, $err) = pty('RESET-EVERYTHING',
	sub { $node->safe_psql('postgres', q{SELECT reset_register_table('store.accounts', 'delete', 'account')}) });
is($rc, 3, 'a plan changed between the preview and the execution is refused (exit 3)');
like($err, qr/the plan changed since it was shown/, "with the server's message");
is(fingerprint(), $before, 'nothing changed');
$node->safe_psql('postgres', q{SELECT reset_register_table('store.accounts', 'preserve', 'account')});

# ---- --json ------------------------------------------------------------------------
($rc, $out, $err) = cli('', '--json', $connstr);
my $doc = eval { decode_json($out) };
ok($doc, '--json preview: stdout is one JSON document') or diag $out;
is($doc->{action} . ' ' . $doc->{exit_code}, 'preview 0', 'action and exit code');
like($doc->{plan}{token}, qr/^[0-9a-f]{16}$/, 'with the plan and its token');
is($doc->{plan}{delete_rows}, 147, 'and its counts');

refill();
($rc, $out, $err) = cli('', '--json', '--confirm', 'RESET-EVERYTHING', '--wait=60s', $connstr);
$doc = eval { decode_json($out) };
ok($doc, '--json reset: stdout is one JSON document') or diag $out;
is($rc, 0, 'exit 0');
like($doc->{reset}{reset_id}, qr/^\d+$/, 'it has the reset id');
is($doc->{reset}{report}[-1], 'System reset complete.', 'and the report lines');
is($doc->{purge}{message}, 'Purged 5 storage object(s).', 'and the purge result');
like($err, qr/Deleted 2 coupon row\(s\)\./, 'person-readable lines go to stderr');

($rc, $out, $err) = cli('', '--json', '--confirm', 'nope', $connstr);
$doc = decode_json($out);
is($doc->{error}{sqlstate} . ' ' . $doc->{exit_code}, 'RS001 3', '--json errors carry the SQLSTATE and exit code');

# ---- --wait -------------------------------------------------------------------------
refill();
($rc, $out, $err) = cli('', '--confirm', 'RESET-EVERYTHING', '--wait', $connstr);
is($rc, 0, '--wait: exit 0 once the purge is done');
like($out, qr/System reset complete\.\nPurged 5 storage object\(s\)\.\n\z/, 'it prints the purged count');
is(files_present($root, $images), 0, 'the files are gone');

refill();
($rc, $out, $err) = cli('', '--confirm', 'RESET-EVERYTHING', '--quiet', '--wait=1 minute', $connstr);
is($out, "System reset complete.\nPurged 5 storage object(s).\n", '--quiet prints only the final lines');

# failures: exit 4
refill();
$node->safe_psql('postgres', "LOAD 'reset_system'; ALTER SYSTEM SET reset_system.purge_max_attempts = 2");
$node->reload;
chmod 0555, "$root/img";
($rc, $out, $err) = cli('', '--confirm', 'RESET-EVERYTHING', '--wait=60s', $connstr);
chmod 0755, "$root/img";
is($rc, 4, 'a purge that finished with failures exits 4');
like($err, qr/purge of reset \d+ finished with 5 failed object\(s\)/, 'with the failures');
$node->safe_psql('postgres', 'SELECT reset_purge_retry()');
$node->safe_psql('postgres', "SELECT reset_purge_wait('60 seconds')");
$node->safe_psql('postgres', "LOAD 'reset_system'; ALTER SYSTEM RESET reset_system.purge_max_attempts");

# timeout: exit 5
refill();
$node->safe_psql('postgres', "LOAD 'reset_system'; ALTER SYSTEM SET reset_system.purge_paused = on");
$node->reload;
($rc, $out, $err) = cli('', '--confirm', 'RESET-EVERYTHING', '--wait=2s', $connstr);
is($rc, 5, 'a purge not finished within --wait exits 5');
like($err, qr/purge of reset \d+ is not finished after 2s\nDETAIL:  5 object\(s\) pending, 0 failed, 0 done so far/, 'saying so');
like($out, qr/System reset complete\./, 'the reset itself is done');
{
	# on a terminal the wait shows its progress
	refill();
	my ($in, $o) = ('', '');
	my $h = IPC::Run::start([ 'reset-system', '--confirm', 'RESET-EVERYTHING', '--noinput', '--wait=3s', $connstr ],
		'<pty<', \$in, '>pty>', \$o, IPC::Run::timeout(60));
	$h->finish;
	like($o, qr/\rPurging storage: 0 of 5 done, 0 failed, 0\/s/, 'on a terminal, --wait shows objects done of total and the rate');
	is($h->result(0), 5, 'and still exits 5 when the time is up');
}
$node->safe_psql('postgres', "LOAD 'reset_system'; ALTER SYSTEM RESET reset_system.purge_paused");
$node->reload;
$node->safe_psql('postgres', "SELECT reset_purge_wait('60 seconds')");

# ---- every refusal exits 3, and nothing changes ------------------------------------
sub refused
{
	my ($what, $state, $env, @args) = @_;
	my $b = refill();
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'reset-system', '--json', '--confirm', 'RESET-EVERYTHING', @args ], '<', \'', '>', \$out, '2>', \$err,
		init => sub { $ENV{$_} = $env->{$_} for keys %$env }, IPC::Run::timeout(60));
	my $code = $? >> 8;
	my $doc = eval { decode_json($out) } // {};
	is($code, 3, "$what: exit 3");
	is($doc->{error}{sqlstate}, $state, "$what: SQLSTATE $state");
	is(fingerprint(), $b, "$what: nothing changed");
	return ($code, $err);
}

# unlabelled database
$node->safe_psql('postgres', 'CREATE DATABASE unlabelled');
$node->safe_psql('unlabelled', 'CREATE EXTENSION reset_system');
($rc, $out, $err) = cli('', '--confirm', 'RESET-EVERYTHING', $node->connstr('unlabelled'));
is($rc, 3, 'an unlabelled database: exit 3');
like($err, qr/has no environment label/, 'saying why');

# a protected environment, then --unlock
label_db($node, 'postgres', 'production');
my ($code, $e2) = refused('a protected environment', 'RS007', {}, $connstr);
like($e2, qr/protected/, 'the message says the environment is protected');
refill();
($rc, $out, $err) = cli('', '--unlock', '5 minutes', '--confirm', 'RESET-EVERYTHING', $connstr);
is($rc, 0, '--unlock DURATION then the reset: exit 0');
like($out, qr/unlocked/i, 'the unlock is reported');
label_db($node, 'postgres', 'test');

# the kill switch
$node->safe_psql('postgres', "LOAD 'reset_system'; ALTER SYSTEM SET reset_system.allow_reset = off");
$node->reload;
($code, $e2) = refused('the kill switch', 'RS008', {}, $connstr);
$node->safe_psql('postgres', "LOAD 'reset_system'; ALTER SYSTEM RESET reset_system.allow_reset");
$node->reload;

# the size guard and a read-only session, through PGOPTIONS
($code, $e2) = refused('the size guard', 'RS009', { PGOPTIONS => '-c reset_system.max_rows=10' }, $connstr);
like($e2, qr/more than reset_system.max_rows/, 'the size guard names the setting');
($code, $e2) = refused('a read-only session', '25006', { PGOPTIONS => '-c default_transaction_read_only=on' }, $connstr);

# a role without the grants
$node->safe_psql('postgres', 'CREATE ROLE nobody LOGIN');
($code, $e2) = refused('a role without privileges', '42501', {}, $node->connstr('postgres') . ' user=nobody');
like($e2, qr/permission denied/, 'permission denied');

# ---- connection and usage errors ---------------------------------------------------
($rc, $out, $err) = cli('', 'host=127.0.0.1 port=1 dbname=x connect_timeout=5');
is($rc, 1, 'a server that is not there: exit 1');
like($err, qr/^reset-system: error: connection to server at "127.0.0.1", port 1 failed/, 'with libpq\'s message');
($rc, $out, $err) = cli('', 'host=127.0.0.1 port');
is($rc, 1, 'a bad connection string: exit 1');
like($err, qr/reset-system: error: missing "=" after "port" in connection info string/, 'with a clear message');
($rc, $out, $err) = cli('', $node->connstr('template1'));
is($rc, 1, 'a database without the extension: exit 1');
like($err, qr/the reset_system extension is not installed in database "template1"\nHINT:/, 'saying so, with a hint');
($rc, $out, $err) = cli('', '--frobnicate');
is($rc, 2, 'an unknown option: exit 2');
($rc, $out, $err) = cli('', 'a', 'b');
is($rc, 2, 'two databases: exit 2');
$before = refill();
($rc, $out, $err) = cli('', '--confirm', 'RESET-EVERYTHING', '--wait=forever', $connstr);
is($rc, 2, 'a --wait that is not a duration: exit 2');
like($err, qr/--wait="forever" is not a duration/, 'saying so');
is(fingerprint(), $before, 'checked before anything is done');
($rc, $out, $err) = cli('', '--help');
is($rc, 0, '--help: exit 0');
like($out, qr/Exit status:\n  0  .*\n  1  .*\n  2  .*\n  3  .*\n(?:.*\n)?  4  .*\n  5  /, '--help documents the exit codes');
($rc, $out, $err) = cli('', '--version');
like($out, qr/^reset-system \(reset_system\) \d+\.\d+/, '--version');

$node->stop;
done_testing();

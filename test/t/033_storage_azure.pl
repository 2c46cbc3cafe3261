# The azure backend against Azurite, Microsoft's Azure Storage emulator (a
# real server: it checks Shared Key and SAS signatures and bearer tokens'
# lifetimes, and implements Delete Blob, Blob Batch, List Blobs, Put Blob
# and leases), run over https with its OAuth checks, behind
# test/lib/azure_proxy.py, which forwards everything and injects the
# faults Azurite cannot (503 storms, a server without Blob Batch, a
# silent server).  The managed identity's token comes from
# test/lib/azure_identity_double.py, a TEST DOUBLE of the instance
# metadata endpoint's token service only.
#
# Covered: Blob Batch with odd names, 404 parts as already gone and 412
# parts (leased blobs) failed with the server's message; single deletes
# with concurrency and per-object retries; the fallback when the server
# does not support batches; a 503 storm (backoff, a bounded number of
# requests); 403 from a read-only SAS token; List Blobs over pages with a
# referenced key kept; a re-seeded file (Put Blob); Shared Key, SAS and a
# managed identity, whose token is cached and fetched again once when it
# expires mid-purge; the server down then up; a silent server against
# SIGTERM and statement_timeout; and secrets that appear nowhere.
use strict;
use warnings;

use File::Path ();
use MIME::Base64 ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes ();
use ResetSystemTest;
use StorageServers;

my $bin = $ENV{AZURITE_BIN};
die 'AZURITE_BIN is not set: run this test through test/run-tests.sh, which installs Azurite'
  unless $bin && -x $bin;

my $account = 'rsaccount';
my $key = MIME::Base64::encode_base64(join('', map { chr(int(rand(256))) } 1 .. 64), '');
my $tmp = PostgreSQL::Test::Utils::tempdir();
my $azurite = start_azurite($bin, "$tmp/azurite", $account, $key);
my @proxy_args = (python3(), 'test/lib/azure_proxy.py', '--upstream', $azurite->{url},
	'--account', $account, '--key', $key);
my $proxy = start_helper('Azure fault proxy', @proxy_args, '--listen-port', '0');
my $port = $proxy->{port};
my $identity = start_helper('Azure metadata token endpoint (TEST DOUBLE)', python3(),
	'test/lib/azure_identity_double.py');
control($proxy, 'POST', '/_test/container', { name => 'media' });

my $node = new_node('azure', preload => 1, conf => q{
reset_system.purge_retry_base = 200ms
reset_system.purge_retry_max = 1s
reset_system.purge_max_attempts = 100
reset_system.storage_timeout = 60s
reset_system.storage_check_cache = 0
});
my $keyfile = $node->basedir . '/azure-account-key';
open my $fh, '>', $keyfile or die;
print $fh "$key\n";
close $fh;
chmod 0600, $keyfile;
$node->start;

my $db = 'postgres';
label_db($node, $db);
$node->safe_psql($db, q{
	CREATE TABLE media (id serial PRIMARY KEY, file_key text);
	CREATE TABLE profiles (id int, picture text);
	CREATE EXTENSION reset_system;
	SELECT reset_register_table('media', 'delete', 'media file', '{file_key}');
	SELECT reset_register_table('profiles', 'preserve', 'profile', '{picture}');
});
my $q = sub { $node->safe_psql($db, $_[0]) };
sub configure
{
	my ($extra) = @_;
	$q->("SELECT reset_configure_storage('azure', jsonb_build_object('account', '$account',
		'container', 'media', 'endpoint', 'http://127.0.0.1:$port/$account') || '" . ($extra // '{}') . "'::jsonb)");
}
sub seed { control($proxy, 'POST', '/_test/seed', { container => 'media', names => $_[0] }) }
sub present
{
	my %have = map { $_ => 1 } @{ control($proxy, 'GET', '/_test/objects?container=media') };
	return scalar grep { $have{$_} } @{ $_[0] };
}
sub fill
{
	my ($keys) = @_;
	$q->('DELETE FROM reset_system.purge_queue');
	my $list = join(',', map { my $k = $_; $k =~ s/'/''/g; "'$k'" } @$keys);
	$q->("INSERT INTO media (file_key) SELECT unnest(ARRAY[$list]::text[])") if @$keys;
}
sub stats { control($proxy, 'GET', '/_control/stats') }
sub pending { $q->(q{SELECT count(*) FROM reset_system.purge_queue WHERE state = 'pending'}) }
sub keys_for
{
	my ($prefix, $n) = @_;
	return [ map { sprintf('%s/%03d/%06d.bin', $prefix, $_ % 10, $_) } 1 .. $n ];
}
sub set_conf
{
	my ($sql) = @_;
	$q->($sql);
	$q->('SELECT pg_reload_conf()');
	Time::HiRes::sleep(0.3);
}
my $worker = q{backend_type = 'reset_system purge worker'};
set_conf(qq{ALTER SYSTEM SET reset_system.azure_shared_key_file = '$keyfile'});
configure();

is($q->(q{SELECT string_agg(check_name || '=' || ok || ': ' || detail, ' | ') FROM reset_storage_check()}),
	"reachable=true: http://127.0.0.1:$port/$account answered HTTP 200 | "
	. 'credentials=true: accepted (from reset_system.azure_shared_key_file) | '
	. 'container=true: container "media" can be listed',
	'the storage check passes with the account key');

# ---- Blob Batch: odd names, missing blobs, a leased blob --------------------
my @odd = ('names/with space.png', 'names/plus+sign.png', 'names/hash#and?query.png',
	'names/percent%41.png', "names/\x{e9}t\x{e9}/\x{65e5}\x{672c}.png", 'names/a/b/c/deep.png',
	q{names/quote's.png}, 'names/amp&er=sand.png');
utf8::encode($_) for @odd;
my $plain = keys_for('plain', 600);
my $gone = keys_for('gone', 20);
my $leased = [ 'lease/held-1.bin', 'lease/held-2.bin' ];
seed([ @odd, @$plain, @$leased ]);
control($proxy, 'POST', '/_test/lease', { container => 'media', name => $_ }) for @$leased;
fill([ @odd, @$plain, @$gone, @$leased ]);
control($proxy, 'POST', '/_control/reset');
$q->(q{SELECT reset_execute('RESET-EVERYTHING')});
ok(wait_purge_done($node, $db), 'the batched purge ends');
is(present([ @odd, @$plain ]), 0, 'every blob is gone, whatever its name');
is($q->(q{SELECT count(*) FROM reset_system.purge_queue WHERE outcome = 'already gone'}), 20,
	'missing blobs (404 parts) count as already gone');
is($q->(q{SELECT string_agg(DISTINCT state || ' ' || attempts || ' ' || last_error, ',') FROM reset_system.purge_queue WHERE key LIKE 'lease/%'}),
	'failed 1 HTTP 412 LeaseIdMissing: There is currently a lease on the blob and no lease ID was specified in the request.',
	'a leased blob\'s part fails at once with the server\'s code and message');
is(present($leased), 2, 'and the leased blobs are still there');
my $s = stats();
is($s->{batch_parts}, 630, 'every delete went in a batch, once');
cmp_ok($s->{batch_requests}, '>=', 3, "in requests of at most 256 sub-requests ($s->{batch_requests} requests)");
is($s->{by_op}{delete} // 0, 0, 'no single Delete Blob');
is(join(',', sort keys %{ $s->{by_auth} }), 'SharedKey', 'every request signed with the account key');
control($proxy, 'POST', '/_test/lease', { container => 'media', name => $_, action => 'break' }) for @$leased;
is($q->('SELECT reset_purge_retry()'), 2, 'once the leases are broken, the failed blobs are queued again');
ok(wait_purge_done($node, $db), 'and purged');
is(present($leased), 0, 'they are gone');

# ---- single deletes: concurrency, and per-object retries ----------------------
configure('{"batch": false}');
my $flaky = keys_for('flaky', 300);
seed($flaky);
fill($flaky);
control($proxy, 'POST', '/_control/reset');
control($proxy, 'POST', '/_control/delay', { ms => 20, count => -1 });
control($proxy, 'POST', '/_control/fail', { status => 500, count => 30, match => 'flaky/003/', op => 'delete' });
$q->(q{SELECT reset_execute('RESET-EVERYTHING')});
is($q->(q{SELECT reset_purge_wait('60 seconds')}), 'Purged 300 storage object(s).', 'single deletes complete');
is(present($flaky), 0, 'every blob is gone');
$s = stats();
is($s->{by_op}{delete}, 330, 'one Delete Blob per blob, and one more for each failed one');
cmp_ok($s->{max_concurrent}, '>', 1, "several requests in flight at once ($s->{max_concurrent})");
cmp_ok($s->{max_concurrent}, '<=', 16, 'never more than reset_system.purge_concurrency');
is($q->(q{SELECT string_agg(DISTINCT attempts::text, ',') FROM reset_system.purge_queue WHERE key LIKE 'flaky/003/%'}),
	'2', 'the failed blobs were retried alone, once');
is($q->(q{SELECT string_agg(DISTINCT attempts::text, ',') FROM reset_system.purge_queue WHERE key NOT LIKE 'flaky/003/%'}),
	'1', 'the others were not retried');

# ---- a 503 storm: backoff, not 1,000 requests -------------------------------------
my $storm = keys_for('storm', 1000);
seed($storm);
fill($storm);
control($proxy, 'POST', '/_control/reset');
control($proxy, 'POST', '/_control/fail', { status => 503, count => -1, op => 'delete', retry_after => 1 });
$q->(q{SELECT reset_execute('RESET-EVERYTHING')});
sleep 4;
my $sent = stats()->{by_op}{delete} // 0;
note "503 storm: $sent Delete Blob requests in 4 s for 1,000 blobs";
cmp_ok($sent, '>=', 16, 'the worker tries');
cmp_ok($sent, '<=', 120, 'but holds requests back while every answer is 503');
is(pending(), 1000, 'nothing is lost or given up');
ok($node->log_contains(qr/WARNING:  reset_system: purge of reset \d+: storage asked to retry all \d+ request\(s\) of the round; waiting \d+ ms before the next one\n[^\n]*DETAIL:  First error: HTTP 503 ServerBusy: The server is currently unable to receive requests\. Please retry your request\. \(\d+ object\(s\) failed the same way\)\./),
	'the worker warns once per round with the server\'s answer and how many share it');
control($proxy, 'POST', '/_control/reset');
ok(wait_purge_done($node, $db), 'the purge completes once the server accepts requests again');
is(present($storm), 0, 'every blob is gone');

# ---- a server without Blob Batch: single deletes instead ----------------------------
configure();
my $nobatch = keys_for('nobatch', 200);
seed($nobatch);
fill($nobatch);
control($proxy, 'POST', '/_control/reset');
control($proxy, 'POST', '/_control/unsupported_batch', { count => -1 });
$q->(q{SELECT reset_execute('RESET-EVERYTHING')});
is($q->(q{SELECT reset_purge_wait('60 seconds')}), 'Purged 200 storage object(s).',
	'the purge completes on a server that refuses batches');
is(present($nobatch), 0, 'every blob is gone');
$s = stats();
is($s->{batch_requests}, 1, 'after one refused batch');
is($s->{by_op}{delete}, 200, 'it deleted one blob per request');
is($q->(q{SELECT max(attempts) FROM reset_system.purge_queue}), 1, 'without counting the refused batch as an attempt');
ok($node->log_contains(qr/LOG:  reset_system: the Azure storage at http:\/\/127\.0\.0\.1:$port\/$account does not support Blob Batch \(HTTP 400 InvalidQueryParameterValue: [^)]*\); deleting blobs one request each/),
	'the server log says so once');
control($proxy, 'POST', '/_control/reset');
# the worker remembers it for its life: let it end before batches are wanted again
ok($node->poll_query_until($db, "SELECT count(*) = 0 FROM pg_stat_activity WHERE $worker"), 'the worker ends when idle');

# ---- SAS tokens: a read-only one gets 403, a full one works --------------------------
my $sasfile = $node->basedir . '/azure-sas';
my $ro = control($proxy, 'POST', '/_test/sas', { permissions => 'rl' })->{sas};
open $fh, '>', $sasfile or die;
print $fh "?$ro\n";
close $fh;
set_conf(qq{ALTER SYSTEM SET reset_system.azure_sas_token_file = '$sasfile'});
configure('{"batch": false}');
is($q->(q{SELECT string_agg(check_name || '=' || ok, ' ') FROM reset_storage_check()}),
	'reachable=true credentials=true container=true', 'a read-only SAS token may list the container');
my $deny = keys_for('deny', 20);
seed($deny);
fill($deny);
$q->(q{SELECT reset_execute('RESET-EVERYTHING')});
ok(wait_purge_done($node, $db), 'the purge ends');
is($q->(q{SELECT string_agg(DISTINCT state || ' ' || attempts || ' ' || last_error, ',') FROM reset_system.purge_queue}),
	'failed 1 HTTP 403 AuthorizationPermissionMismatch: This request is not authorized to perform this operation using this permission.',
	'a 403 fails at the first attempt with the server\'s message');
like($q->(q{SELECT last_error FROM reset_purge_status() WHERE state = 'failed'}),
	qr/^HTTP 403 AuthorizationPermissionMismatch: .* \(20 object\(s\) failed the same way\)$/,
	'reset_purge_status() says so, with how many share it');
is(present($deny), 20, 'nothing was deleted');
my $rw = control($proxy, 'POST', '/_test/sas', { permissions => 'rdlw' })->{sas};
open $fh, '>', $sasfile or die;
print $fh "$rw\n";
close $fh;
configure();
control($proxy, 'POST', '/_control/reset');
is($q->('SELECT reset_purge_retry()'), 20, 'with a token that may delete, the failed blobs are queued again');
ok(wait_purge_done($node, $db), 'and purged');
is(present($deny), 0, 'in batches');
$s = stats();
is(join(',', sort keys %{ $s->{by_auth} }), 'SAS', 'authorized by the SAS token alone');
cmp_ok($s->{batch_requests}, '>=', 1, 'through the account\'s batch endpoint');

# ---- a prefix over several list pages, a referenced blob kept, a re-seeded file ------
my $listed = [ map { sprintf('listed/%02d/%05d.bin', $_ % 50, $_) } 1 .. 5100 ];
seed($listed);
fill([]);
$q->(qq{INSERT INTO profiles VALUES (1, '$listed->[7]')});
$q->(q{SELECT reset_register_prefix('listed/')});
my $logo = $node->basedir . '/logo.png';
open $fh, '>', $logo or die;
print $fh "logo\n";
close $fh;
$q->(qq{SELECT reset_register_rebuild('logo', \$\$SELECT reset_seed_object('branding/logo.png', '$logo')\$\$)});
control($proxy, 'POST', '/_control/reset');
$q->(q{SELECT reset_execute('RESET-EVERYTHING')});
is($q->(q{SELECT reset_purge_wait('120 seconds')}), 'Purged 5,099 storage object(s). Uploaded 1 resource file(s).',
	'the listed prefix is purged and the seed uploaded');
is(present($listed), 1, 'all but the referenced blob');
is(present([ $listed->[7] ]), 1, 'which is kept');
is(stats()->{by_op}{list}, 2, '5,100 blobs listed in 2 pages');
is(present(['branding/logo.png']), 1, 'the seeded file is there (Put Blob)');
$q->(q{SELECT reset_unregister_prefix('listed/'); SELECT reset_unregister_rebuild('logo'); DELETE FROM profiles});

# ---- a managed identity: a token from the metadata endpoint, cached ------------------
set_conf(qq{ALTER SYSTEM RESET reset_system.azure_sas_token_file;
	ALTER SYSTEM RESET reset_system.azure_shared_key_file;
	ALTER SYSTEM SET reset_system.azure_metadata_host = '127.0.0.1:$identity->{port}'});
configure();
like($q->(q{SELECT string_agg(check_name || '=' || ok || ': ' || detail, ' | ') FROM reset_storage_check()}),
	qr/^reachable=true: .* \| credentials=true: accepted \(from a managed identity \(metadata endpoint 127\.0\.0\.1:\d+\)\) \| container=true: /,
	'the storage check passes with a managed identity\'s token');
my $mi = keys_for('mi', 400);
seed($mi);
fill($mi);
control($proxy, 'POST', '/_control/reset');
control($identity, 'POST', '/_control/reset');
$q->(q{SELECT reset_execute('RESET-EVERYTHING')});
is($q->(q{SELECT reset_purge_wait('60 seconds')}), 'Purged 400 storage object(s).', 'the purge runs with the token');
is(present($mi), 0, 'every blob is gone');
$s = stats();
is(join(',', sort keys %{ $s->{by_auth} }), 'Bearer', 'every request carried the bearer token');
is(control($identity, 'GET', '/_control/stats')->{tokens_issued}, 1, 'one token, cached for the whole purge');

# ---- the token expires in the middle of a purge: fetched again once --------------------
configure('{"batch": false}');
my $long = keys_for('long', 600);
seed($long);
fill($long);
$q->("ALTER SYSTEM SET reset_system.purge_batch_size = 100");
$q->('SELECT pg_reload_conf()');
# a new worker, whose token the storage will find expired after 3 seconds
$q->("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE $worker");
ok($node->poll_query_until($db, "SELECT count(*) = 0 FROM pg_stat_activity WHERE $worker"), 'the old worker is gone');
control($proxy, 'POST', '/_control/reset');
control($proxy, 'POST', '/_control/delay', { ms => 150, count => -1 });
control($identity, 'POST', '/_control/reset');
control($identity, 'POST', '/_control/lifetime', { seconds => 3 });
$q->(q{SELECT reset_execute('RESET-EVERYTHING')});
ok($node->poll_query_until($db, q{SELECT count(*) >= 100 FROM reset_system.purge_queue WHERE state = 'done'}),
	'the purge is under way');
control($identity, 'POST', '/_control/lifetime', { seconds => 3600 });
ok(wait_purge_done($node, $db), 'it finishes after the token expired');
$s = stats();
my $t = control($identity, 'GET', '/_control/stats');
cmp_ok($s->{auth_failed}, '>', 0, "the storage refused the expired token ($s->{auth_failed} times)");
is($t->{tokens_issued}, 2, 'the worker fetched one new token');
is($q->(q{SELECT count(*) FROM reset_system.purge_queue WHERE state = 'done' AND attempts = 1}), 600,
	'and redid the refused deletes within the same attempt, none failed');
is(present($long), 0, 'every blob is gone');
$q->("ALTER SYSTEM RESET reset_system.purge_batch_size");
$q->('SELECT pg_reload_conf()');
control($proxy, 'POST', '/_control/reset');

# ---- the server down, then up ----------------------------------------------------------
set_conf(qq{ALTER SYSTEM SET reset_system.azure_shared_key_file = '$keyfile'});
configure();
my $down = keys_for('down', 50);
seed($down);
fill($down);
stop_helper($proxy);
$q->(q{SELECT reset_execute('RESET-EVERYTHING')});
ok($node->poll_query_until($db,
	q{SELECT count(*) > 0 FROM reset_system.purge_queue WHERE last_error LIKE '%could not connect to the server%'}),
	'with the server down, the error says so');
is(pending(), 50, 'and the blobs stay pending');
$proxy = start_helper('Azure fault proxy', @proxy_args, '--listen-port', $port);
ok(wait_purge_done($node, $db), 'once it is up again the purge finishes');
is(present($down), 0, 'the blobs are gone');

# ---- a server that does not answer: SIGTERM, then statement_timeout -------------------
my $slow = keys_for('slow', 50);
seed($slow);
fill($slow);
control($proxy, 'POST', '/_control/delay', { ms => 30000, count => -1 });
$q->(q{SELECT reset_execute('RESET-EVERYTHING')});
ok($node->poll_query_until($db,
	qq{SELECT count(*) = 1 FROM pg_stat_activity WHERE $worker AND query LIKE 'reset_system purge:%'}),
	'the worker waits for the silent server');
sleep 1;
my $pid = $q->("SELECT pid FROM pg_stat_activity WHERE $worker");
my $t0 = Time::HiRes::time();
kill 'TERM', $pid;
ok($node->poll_query_until($db, "SELECT count(*) = 0 FROM pg_stat_activity WHERE $worker"), 'SIGTERM ends the worker');
cmp_ok(Time::HiRes::time() - $t0, '<', 10, 'at once, not after the request timeout');
is(pending(), 50, 'nothing is lost');
$t0 = Time::HiRes::time();
my ($ret, $out, $err) = $node->psql($db, "SET statement_timeout = '1s'; SELECT * FROM reset_storage_check()");
like($err, qr/canceling statement due to statement timeout/, 'statement_timeout cancels a storage check');
cmp_ok(Time::HiRes::time() - $t0, '<', 10, 'promptly');
ok($node->poll_query_until($db,
	q{SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'reset_system storage check'}),
	'and its worker is stopped');
control($proxy, 'POST', '/_control/reset');
$q->('SELECT reset_purge_kick()');
ok(wait_purge_done($node, $db), 'a new worker finishes the purge');
is(present($slow), 0, 'the blobs are gone');

# ---- no secret anywhere --------------------------------------------------------------------
my $log = slurp_file($node->logfile);
my $all = $q->(q{
	SELECT concat_ws(' ', (SELECT string_agg(q::text, ' ') FROM reset_system.purge_queue q),
	                      (SELECT string_agg(h::text, ' ') FROM reset_system.history h),
	                      (SELECT string_agg(a::text, ' ') FROM reset_system.attempts a),
	                      (SELECT string_agg(c::text, ' ') FROM reset_system.storage_checks c),
	                      (SELECT string_agg(s::text, ' ') FROM reset_system.storage s),
	                      reset_plan(), (SELECT string_agg(c::text, ' ') FROM reset_config() c))});
my ($ro_sig) = $ro =~ /sig=([^&]+)/;
my ($rw_sig) = $rw =~ /sig=([^&]+)/;
for my $secret ([ 'account key', $key ], [ 'SAS signature', $ro_sig ], [ 'SAS signature', $rw_sig ],
	[ 'bearer token', 'eyJ' ])
{
	unlike($log, qr/\Q$secret->[1]\E/, "no $secret->[0] in the server log");
	unlike($all, qr/\Q$secret->[1]\E/, "nor in the queue, history, attempts, checks, configuration or plan");
}
$q->(q{CREATE ROLE rs_nobody LOGIN});
is($node->safe_psql($db, q{SELECT count(*) FROM pg_settings WHERE name IN ('reset_system.azure_sas_token_file', 'reset_system.azure_shared_key_file')},
	extra_params => [ '-U', 'rs_nobody' ]), '0', 'other roles cannot see the settings that name credentials');

stop_helper($proxy);
stop_helper($identity);
$node->stop;
done_testing();

# The gcs backend against test/lib/gcs_double.py, a TEST DOUBLE of Google
# Cloud Storage's JSON API and of the GCE metadata server's token endpoint
# (no GCS emulator can be installed here).  The double answers as the
# documented API does, requires a bearer token issued by its metadata
# endpoint, and injects faults on request.
#
# Covered: one DELETE per object with names encoded as one path segment,
# many in flight; listing with pagination; 404 as "already gone"; the batch
# endpoint (100 deletes a request) with partial failures; 403 (failed at
# once, message kept); 429 storms (backoff, a bounded number of requests);
# token from the metadata server (GCE_METADATA_HOST), cached, and refreshed
# once when it expires mid-purge; a token file and a token command; the
# server down then up; a server that never answers vs SIGTERM; the storage
# check; re-seeded files; and tokens that appear nowhere.
use strict;
use warnings;

use HTTP::Tiny;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes ();
use ResetSystemTest;
use StorageServers;

my @double_args = (python3(), 'test/lib/gcs_double.py', '--bucket', 'uploads', '--require-auth');
my $gcs = start_helper('GCS test double', @double_args, '--port', '0');
my $port = $gcs->{port};

# the server's environment names the metadata server, as on GCE and Cloud Run
local $ENV{GCE_METADATA_HOST} = "127.0.0.1:$port";
my $node = new_node('gcs', preload => 1, conf => q{
reset_system.purge_retry_base = 200ms
reset_system.purge_retry_max = 1s
reset_system.purge_max_attempts = 100
reset_system.storage_timeout = 60s
});
$node->start;

my $db = 'postgres';
label_db($node, $db);
$node->safe_psql($db, qq{
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
	$q->("SELECT reset_configure_storage('gcs', jsonb_build_object('bucket', 'uploads',
		'endpoint', 'http://127.0.0.1:$port') || '" . ($extra // '{}') . "'::jsonb)");
}
sub seed { control($gcs, 'POST', '/_test/seed/uploads', { names => $_[0], data => "x\n" }) }
sub present
{
	my %have = map { $_ => 1 } @{ control($gcs, 'GET', '/_test/objects/uploads') };
	return scalar grep { $have{$_} } @{ $_[0] };
}
sub fill
{
	my ($keys) = @_;
	$q->('DELETE FROM reset_system.purge_queue');
	my $list = join(',', map { my $k = $_; $k =~ s/'/''/g; "'$k'" } @$keys);
	$q->("INSERT INTO media (file_key) SELECT unnest(ARRAY[$list]::text[])");
}
sub stats { control($gcs, 'GET', '/_control/stats') }
sub pending { $q->(q{SELECT count(*) FROM reset_system.purge_queue WHERE state = 'pending'}) }
sub keys_for
{
	my ($prefix, $n) = @_;
	return [ map { sprintf('%s/%03d/%06d.bin', $prefix, $_ % 10, $_) } 1 .. $n ];
}
configure();

is($q->(q{SELECT string_agg(check_name || '=' || ok, ' ') FROM reset_storage_check()}),
	'reachable=true credentials=true bucket=true', 'the storage check passes with a metadata-server token');

# ---- one DELETE per object, names as one encoded segment --------------------
my @odd = ('names/with space.png', 'names/plus+sign.png', 'names/hash#and?query.png',
	'names/percent%41.png', "names/\x{e9}t\x{e9}/\x{65e5}\x{672c}.png", 'names/a/b/c/deep.png',
	q{names/quote's.png});
utf8::encode($_) for @odd;
my $plain = keys_for('plain', 300);
my $gone = keys_for('gone', 20);
seed([ @odd, @$plain ]);
fill([ @odd, @$plain, @$gone ]);
control($gcs, 'POST', '/_control/reset');
# answers take 20 ms, so that requests in flight together can be seen
control($gcs, 'POST', '/_control/delay', { ms => 20, count => -1 });
$q->(q{SELECT reset_execute('RESET-EVERYTHING')});
is($q->(q{SELECT reset_purge_wait('60 seconds')}), 'Purged 327 storage object(s).', 'the purge completes');
is(present([ @odd, @$plain ]), 0, 'every object is gone, whatever its name');
is($q->(q{SELECT count(*) FROM reset_system.purge_queue WHERE outcome = 'already gone'}), 20,
	'missing objects (404) count as already gone');
my $s = stats();
is($s->{by_method}{DELETE}, 327, 'one DELETE per object, each sent once');
cmp_ok($s->{max_concurrent}, '>', 1, "several requests in flight at once ($s->{max_concurrent})");
cmp_ok($s->{max_concurrent}, '<=', 16, 'never more than reset_system.purge_concurrency');
is($s->{tokens_issued}, 1, 'one token from the metadata server, cached for the whole purge');

# ---- a prefix over several list pages; a referenced key is kept; a seed ------
my $listed = keys_for('listed', 2500);
seed($listed);
fill([]);
$q->(qq{INSERT INTO profiles VALUES (1, '$listed->[7]')});
$q->(q{SELECT reset_register_prefix('listed/')});
my $logo = $node->basedir . '/logo.png';
open my $fh, '>', $logo or die;
print $fh "logo\n";
close $fh;
$q->(qq{SELECT reset_register_rebuild('logo', \$\$SELECT reset_seed_object('branding/logo.png', '$logo')\$\$)});
control($gcs, 'POST', '/_control/reset_stats');
$q->(q{SELECT reset_execute('RESET-EVERYTHING')});
is($q->(q{SELECT reset_purge_wait('60 seconds')}), 'Purged 2,499 storage object(s). Uploaded 1 resource file(s).',
	'the listed prefix is purged and the seed uploaded');
is(present($listed), 1, 'all but the referenced object');
is(present([ $listed->[7] ]), 1, 'which is kept');
is(HTTP::Tiny->new->get("http://127.0.0.1:$port/_test/object/uploads/branding/logo.png")->{content}, "logo\n",
	'the seeded file has its content');
is(stats()->{list_requests}, 3, '2,500 objects listed in 3 pages');
$q->(q{SELECT reset_unregister_prefix('listed/'); SELECT reset_unregister_rebuild('logo'); DELETE FROM profiles});

# ---- the batch endpoint, with some parts failing ---------------------------
configure('{"batch": true}');
my $batched = keys_for('batch', 450);
seed($batched);
fill($batched);
control($gcs, 'POST', '/_control/reset');
control($gcs, 'POST', '/_control/fail', { status => 503, count => 45, match => 'batch/003/', scope => 'embedded' });
$q->(q{SELECT reset_execute('RESET-EVERYTHING')});
is($q->(q{SELECT reset_purge_wait('60 seconds')}), 'Purged 450 storage object(s).', 'batched deletes complete');
is(present($batched), 0, 'every object is gone');
$s = stats();
is($s->{batch_parts}, 495, 'batch requests carried the 450 deletes and the 45 retried ones');
cmp_ok($s->{batch_requests}, '>=', 5, "in requests of at most 100 parts ($s->{batch_requests} requests)");
is($s->{by_method}{DELETE} // 0, 0, 'and no single DELETE');
is($q->(q{SELECT string_agg(DISTINCT attempts::text, ',') FROM reset_system.purge_queue WHERE key LIKE 'batch/003/%'}),
	'2', 'the failed parts were retried once');
is($q->(q{SELECT string_agg(DISTINCT attempts::text, ',') FROM reset_system.purge_queue WHERE key NOT LIKE 'batch/003/%'}),
	'1', 'the other parts were not');
configure();

# ---- 403: failed at once, with the server's message -------------------------
my $deny = keys_for('deny', 30);
my $okay = keys_for('okay', 30);
seed([ @$deny, @$okay ]);
fill([ @$deny, @$okay ]);
control($gcs, 'POST', '/_control/reset');
control($gcs, 'POST', '/_control/forbid', { match => 'deny/' });
$q->(q{SELECT reset_execute('RESET-EVERYTHING')});
ok(wait_purge_done($node, $db), 'the purge ends');
like($q->(q{SELECT string_agg(DISTINCT state || ' ' || attempts || ' ' || last_error, ',') FROM reset_system.purge_queue WHERE key LIKE 'deny/%'}),
	qr/^failed 1 HTTP 403: Access denied: injected 403 for deny\//, 'a 403 fails at the first attempt with the server\'s message');
is(present($okay), 0, 'the other objects are gone');
control($gcs, 'POST', '/_control/reset');

# ---- a 429 storm: the worker backs off instead of sending 1,000 requests ----
my $storm = keys_for('storm', 1000);
seed($storm);
fill($storm);
control($gcs, 'POST', '/_control/fail', { status => 429, count => -1, method => 'DELETE' });
$q->(q{SELECT reset_execute('RESET-EVERYTHING')});
sleep 4;
my $sent = stats()->{by_method}{DELETE} // 0;
note "429 storm: $sent DELETE requests in 4 s for 1,000 objects";
cmp_ok($sent, '>=', 16, 'the worker tries');
cmp_ok($sent, '<=', 120, 'but holds requests back while every answer is 429');
is(pending(), 1000, 'nothing is lost or given up');
control($gcs, 'POST', '/_control/reset');
ok(wait_purge_done($node, $db), 'the purge completes once the server accepts requests again');
is(present($storm), 0, 'every object is gone');

# ---- the token expires in the middle of a purge: refreshed once --------------
my $long = keys_for('long', 1000);
seed($long);
fill($long);
$q->("LOAD 'reset_system'; ALTER SYSTEM SET reset_system.purge_batch_size = 100");
$node->reload;
control($gcs, 'POST', '/_control/reset');
control($gcs, 'POST', '/_control/delay', { ms => 100, count => -1 });
$q->(q{SELECT reset_execute('RESET-EVERYTHING')});
ok($node->poll_query_until($db, q{SELECT count(*) >= 100 FROM reset_system.purge_queue WHERE state = 'done'}),
	'the purge is under way');
my $issued = stats()->{tokens_issued};
control($gcs, 'POST', '/_control/expire_tokens');
ok(wait_purge_done($node, $db), 'it finishes after the token expired');
$s = stats();
cmp_ok($s->{auth_failures}, '>', 0, 'the expired token was refused');
is($s->{tokens_issued} - $issued, 1, 'the worker fetched one new token');
is($q->(q{SELECT count(*) FROM reset_system.purge_queue WHERE state = 'done' AND attempts = 1}), 1000,
	'and redid the refused deletes within the same attempt, none failed');
control($gcs, 'POST', '/_control/reset');
$q->("ALTER SYSTEM RESET reset_system.purge_batch_size");
$node->reload;

# ---- a token file, then a token command ---------------------------------------
my $res = HTTP::Tiny->new->get("http://127.0.0.1:$port/computeMetadata/v1/instance/service-accounts/default/token",
	{ headers => { 'Metadata-Flavor' => 'Google' } });
my ($file_token) = $res->{content} =~ /"access_token":\s*"([^"]+)"/;
my $tokfile = $node->basedir . '/gcs-token.json';
open $fh, '>', $tokfile or die;
print $fh $res->{content};
close $fh;
chmod 0600, $tokfile;
$q->("ALTER SYSTEM SET reset_system.gcs_token_file = '$tokfile'");
$node->reload;
control($gcs, 'POST', '/_control/reset_stats');
my $ftok = keys_for('ftok', 20);
seed($ftok);
fill($ftok);
$q->(q{SELECT reset_execute('RESET-EVERYTHING')});
ok(wait_purge_done($node, $db), 'the purge with a token file finishes');
is(present($ftok), 0, 'and deleted the objects');
is(stats()->{token_requests}, 0, 'without asking the metadata server');
$q->(qq{ALTER SYSTEM RESET reset_system.gcs_token_file; ALTER SYSTEM SET reset_system.gcs_token_command = 'cat $tokfile'});
$node->reload;
is($q->(q{SELECT string_agg(check_name || '=' || ok, ' ') FROM reset_storage_check()}),
	'reachable=true credentials=true bucket=true', 'a token command works too');
$q->(q{ALTER SYSTEM SET reset_system.gcs_token_command = 'exit 3'});
$node->reload;
is($q->(q{SELECT string_agg(check_name || '=' || ok || ': ' || detail, ' | ') FROM reset_storage_check()}),
	"reachable=true: http://127.0.0.1:$port answered HTTP 401 | credentials=false: no access token: reset_system.gcs_token_command failed: child process exited with exit code 3",
	'a failing token command is reported');
$q->(q{ALTER SYSTEM RESET reset_system.gcs_token_command});
$node->reload;

# ---- the server down, then up ---------------------------------------------------
my $down = keys_for('down', 50);
fill($down);
stop_helper($gcs);
$q->(q{SELECT reset_execute('RESET-EVERYTHING')});
ok($node->poll_query_until($db,
	q{SELECT count(*) > 0 FROM reset_system.purge_queue WHERE last_error LIKE '%could not connect to the server%'}),
	'with the server down, the error says so');
$gcs = start_helper('GCS test double', @double_args, '--port', $port);
seed($down);
ok(wait_purge_done($node, $db), 'once it is up again the purge finishes');
is(present($down), 0, 'the objects are gone');

# ---- a server that does not answer: SIGTERM ends the worker at once ----------
my $slow = keys_for('slow', 50);
seed($slow);
fill($slow);
control($gcs, 'POST', '/_control/delay', { ms => 30000, count => -1 });
$q->(q{SELECT reset_execute('RESET-EVERYTHING')});
my $worker = q{backend_type = 'reset_system purge worker'};
ok($node->poll_query_until($db,
	qq{SELECT count(*) = 1 FROM pg_stat_activity WHERE $worker AND query LIKE 'reset_system purge:%'}),
	'the worker waits for the slow server');
sleep 1;
my $pid = $q->("SELECT pid FROM pg_stat_activity WHERE $worker");
my $t0 = Time::HiRes::time();
kill 'TERM', $pid;
ok($node->poll_query_until($db, "SELECT count(*) = 0 FROM pg_stat_activity WHERE $worker"), 'SIGTERM ends the worker');
cmp_ok(Time::HiRes::time() - $t0, '<', 10, 'at once, not after the request timeout');
is(pending(), 50, 'nothing is lost');
control($gcs, 'POST', '/_control/reset');
$q->('SELECT reset_purge_kick()');
ok(wait_purge_done($node, $db), 'a new worker finishes the purge');

# ---- STORAGE_EMULATOR_HOST: an emulator, no authentication -------------------------
my $emu = start_helper('GCS test double without authentication', python3(), 'test/lib/gcs_double.py',
	'--bucket', 'uploads', '--port', '0');
$node->stop;
{
	local $ENV{STORAGE_EMULATOR_HOST} = "127.0.0.1:$emu->{port}";
	$node->start;
}
is($q->(q{SELECT string_agg(check_name || '=' || ok || ': ' || detail, ' | ') FROM reset_storage_check()}),
	"reachable=true: http://127.0.0.1:$emu->{port} answered HTTP 200 | credentials=true: none needed (STORAGE_EMULATOR_HOST) | "
	. 'bucket=true: bucket "uploads" exists', 'STORAGE_EMULATOR_HOST points the backend at an emulator, without authentication');
my $emukeys = keys_for('emu', 30);
control($emu, 'POST', '/_test/seed/uploads', { names => $emukeys });
fill($emukeys);
$q->(q{SELECT reset_execute('RESET-EVERYTHING')});
is($q->(q{SELECT reset_purge_wait('60 seconds')}), 'Purged 30 storage object(s).', 'and the purge runs against it');
my $es = control($emu, 'GET', '/_control/stats');
is(($es->{token_requests} // 0) . ' ' . $es->{deleted}, '0 30', 'with no token at all');
stop_helper($emu);

# ---- no token anywhere ------------------------------------------------------------
my $log = slurp_file($node->logfile);
my $all = $q->(q{
	SELECT concat_ws(' ', (SELECT string_agg(q::text, ' ') FROM reset_system.purge_queue q),
	                      (SELECT string_agg(h::text, ' ') FROM reset_system.history h),
	                      (SELECT string_agg(a::text, ' ') FROM reset_system.attempts a),
	                      (SELECT string_agg(c::text, ' ') FROM reset_system.storage_checks c),
	                      (SELECT string_agg(s::text, ' ') FROM reset_system.storage s),
	                      reset_plan(), (SELECT string_agg(c::text, ' ') FROM reset_config() c))});
unlike($log, qr/ya29\.|\Q$file_token\E/, 'no access token in the server log');
unlike($all, qr/ya29\.|\Q$file_token\E/, 'nor in the queue, history, attempts, checks, configuration or plan');
# preloaded, the settings that name credentials are hidden in every session
$q->(q{CREATE ROLE rs_nobody LOGIN});
my ($ret, $out, $err) = $node->psql($db, 'SHOW reset_system.gcs_token_command', extra_params => [ '-U', 'rs_nobody' ]);
# (the server's words: "must be superuser or have privileges of
# pg_read_all_settings to examine" up to 15, "permission denied to examine" from 16)
like($err, qr/(?:must be superuser or have privileges of pg_read_all_settings|permission denied) to examine "reset_system.gcs_token_command"/,
	'other roles cannot SHOW the token settings');
is($node->safe_psql($db, q{SELECT count(*) FROM pg_settings WHERE name LIKE 'reset_system.gcs_token%'},
	extra_params => [ '-U', 'rs_nobody' ]), '0', 'nor see them in pg_settings');

stop_helper($gcs);
$node->stop;
done_testing();

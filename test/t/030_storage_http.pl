# The http backend against a real nginx with its WebDAV module, run
# unprivileged with its own configuration on a loopback port: deletes,
# prefix purges through the JSON index and by collection, re-seeded
# files, the storage check, credentials from a file that never leak, and
# faults (server down then up, 503 storms without a request storm, 403,
# some keys failing, a server that never answers vs SIGTERM and cancel).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes ();
use ResetSystemTest;
use StorageServers;

my $secret = 'Bearer rs-http-secret-7f3a9c';

my $node = new_node('http', conf => q{
reset_system.purge_retry_base = 200ms
reset_system.purge_retry_max = 1s
reset_system.purge_max_attempts = 100
reset_system.storage_timeout = 60s
});
$node->start;
my $nginx = start_nginx($node->basedir . '/nginx', auth => $secret);
my $dav = "$nginx->{www}/dav";

# ---- the sample application on WebDAV ------------------------------------
setup_app($node, 'app', $node->basedir . '/unused', 1);
$node->safe_psql('app',
	"SELECT reset_configure_storage('http', jsonb_build_object('base_url', '$nginx->{url}'))");
my $deleted = app_keys($node, 'app', 'deleted');
my $kept = [ @{ app_keys($node, 'app', 'preserved') }, @{ app_keys($node, 'app', 'rebuilt') } ];
make_files($dav, [ @$deleted, @$kept ]);

is($node->safe_psql('app', q{SELECT string_agg(check_name || '=' || ok, ' ') FROM reset_storage_check()}),
	'reachable=true credentials=true writable=true', 'the storage check writes and deletes a test object');
ok(!-e "$dav/.reset_system-check", 'and leaves nothing behind');
like($node->safe_psql('app', 'SELECT reset_plan()'), qr/Storage check.*\n\s+ok\s+reachable.*\n\s+ok\s+credentials.*\n\s+ok\s+writable/,
	'the plan shows the check');

# a prefix listed through the JSON index: one key under it is still referenced
make_files($dav, [ map { "tmp/exports/$_.csv" } 1 .. 30 ]);
make_files($dav, [ 'tmp/keep/avatar.png' ]);
$node->safe_psql('app', q{
	UPDATE app.users SET avatar_key = 'tmp/keep/avatar.png' WHERE id = 1;
	SELECT reset_register_prefix('tmp/');
});
my $seed = $node->basedir . '/seed-logo.png';
open my $fh, '>', $seed or die;
print $fh "logo\n";
close $fh;
$node->safe_psql('app', qq{SELECT reset_register_rebuild('logo',
	\$\$SELECT reset_seed_object('branding/logo.png', '$seed')\$\$)});

my $out = $node->safe_psql('app', "SELECT reset_execute('RESET-EVERYTHING')");
like($out, qr/Queued 1 resource file\(s\) for upload after the purge/, 'the seed is queued');
is($node->safe_psql('app', "SELECT reset_purge_wait('60 seconds')"),
	'Purged ' . (scalar(@$deleted) + 30) . ' storage object(s). Uploaded 1 resource file(s).',
	'reset_purge_wait reports the purge (rows and prefix) and the upload');
is(files_present($dav, $deleted), 0, 'every file of a deleted row is gone from the server');
is(files_present($dav, $kept), scalar @$kept, 'files of preserved and rebuilt rows are still there');
is(files_present($dav, [ map { "tmp/exports/$_.csv" } 1 .. 30 ]), 0, 'the listed prefix is purged');
ok(-e "$dav/tmp/keep/avatar.png", 'except the key a preserved row references');
is(slurp_file("$dav/branding/logo.png"), "logo\n", 'the resource file was uploaded with PUT');
my ($n, $st) = nginx_requests($nginx, 'DELETE', qr{^/dav/(uploads|reports)/});
is($n, scalar(grep { m{^(uploads|reports)/} } @$deleted), 'one DELETE per object, none repeated');
is(join(',', keys %$st), '204', 'all answered 204');
$node->safe_psql('app', q{SELECT reset_unregister_rebuild('logo'); SELECT reset_unregister_prefix('tmp/')});

# ---- a second database: a table of keys shaped for the fault tests --------
$node->safe_psql('postgres', 'CREATE DATABASE media');
label_db($node, 'media');
$node->safe_psql('media', q{
	CREATE TABLE media (id serial PRIMARY KEY, file_key text);
	CREATE EXTENSION reset_system;
	SELECT reset_register_table('media', 'delete', 'media file', '{file_key}');
});

# fill(N, DIR, PREFIX): N rows whose keys are PREFIX/k/N.bin, with their files
sub fill
{
	my ($count, $base, $prefix) = @_;
	$node->safe_psql('media', qq{
		INSERT INTO media (file_key) SELECT '$prefix/' || (g % 10) || '/' || g || '.bin' FROM generate_series(1, $count) g;
	});
	my $keys = [ split /\n/, $node->safe_psql('media', "SELECT file_key FROM media WHERE file_key LIKE '$prefix/%' ORDER BY id") ];
	make_files($base, $keys);
	return $keys;
}
sub configure
{
	my ($url) = @_;
	$node->safe_psql('media', "SELECT reset_configure_storage('http', jsonb_build_object('base_url', '$url'))");
}
sub pending
{
	return $node->safe_psql('media', q{SELECT count(*) FROM reset_system.purge_queue WHERE state = 'pending'});
}
configure($nginx->{url});

# server down at first, then up
nginx_stop($nginx);
my $keys = fill(40, $dav, 'down');
$node->safe_psql('media', "SELECT reset_execute('RESET-EVERYTHING')");
ok($node->poll_query_until('media',
	q{SELECT count(*) > 0 FROM reset_system.purge_queue WHERE last_error LIKE '%could not connect to the server%'}),
	'with the server down, deletes fail with the connection error');
is(pending(), 40, 'and stay pending');
nginx_start($nginx);
ok(wait_purge_done($node, 'media'), 'once the server is up, the purge finishes');
is($node->safe_psql('media', q{SELECT count(*) FROM reset_system.purge_queue WHERE state = 'done'}), 40, 'every key done');
is(files_present($dav, $keys), 0, 'the files are gone');

# a 503 storm: the worker backs off and holds requests back
$node->safe_psql('media', 'DELETE FROM reset_system.purge_queue');
$keys = fill(600, $dav, 'storm');
nginx_faults($nginx, q{location ~ ^/dav/storm/ { return 503; }});
my ($before) = nginx_requests($nginx, 'DELETE', qr{^/dav/storm/});
$node->safe_psql('media', "SELECT reset_execute('RESET-EVERYTHING')");
my $t0 = Time::HiRes::time();
sleep 4;
my ($during) = nginx_requests($nginx, 'DELETE', qr{^/dav/storm/});
my $elapsed = Time::HiRes::time() - $t0;
my $sent = $during - $before;
note "503 storm: $sent DELETE requests in ${elapsed}s for 600 keys";
cmp_ok($sent, '>', 0, 'the worker tries');
cmp_ok($sent, '<=', 120, 'but sends far fewer requests than keys while every answer is 503');
ok($node->log_contains(qr/WARNING:  reset_system: purge of reset \d+: storage asked to retry all \d+ request\(s\) of the round; waiting \d+ ms before the next one\n[^\n]*DETAIL:  First error: HTTP 503\b.{0,400}?\(\d+ object\(s\) failed the same way\)\./s),
	'the worker warns that it backs off, with the server\'s answer and how many share it');
is(pending(), 600, 'nothing is lost or given up');
nginx_faults($nginx, '');
ok(wait_purge_done($node, 'media'), 'when the storm ends, the purge finishes');
is(files_present($dav, $keys), 0, 'every file is gone');

# some keys fail (only those are retried), and a 403 fails at once with the server's answer
$node->safe_psql('media', 'DELETE FROM reset_system.purge_queue');
$keys = fill(100, $dav, 'mixed');
nginx_faults($nginx, q{
	location ~ ^/dav/mixed/3/ { return 503; }
	location ~ ^/dav/mixed/7/ { return 403 "denied by policy\n"; }
});
$node->safe_psql('media', "SELECT reset_execute('RESET-EVERYTHING')");
ok($node->poll_query_until('media', q{
	SELECT count(*) = 80 FROM reset_system.purge_queue WHERE state = 'done'}),
	'the other keys are deleted');
ok($node->poll_query_until('media', q{
	SELECT bool_and(attempts >= 3) FROM reset_system.purge_queue WHERE key LIKE 'mixed/3/%'}),
	'the keys answered 503 are retried');
is($node->safe_psql('media', q{
	SELECT count(*) || ' ' || min(attempts) || ' ' || max(attempts) || ' ' || min(last_error)
	FROM reset_system.purge_queue WHERE key LIKE 'mixed/7/%' AND state = 'failed'}),
	"10 1 1 HTTP 403: denied by policy\n", 'the keys answered 403 failed at the first attempt, with the server\'s answer');
nginx_faults($nginx, '');
ok(wait_purge_done($node, 'media'), 'the retried keys finish once the server recovers');
my ($ok3) = nginx_requests($nginx, 'DELETE', qr{^/dav/mixed/(?!3/|7/)});
is($ok3, 80, 'keys that succeeded were sent once each');
is(files_present($dav, $keys), 10, 'only the forbidden files remain');

# a collection on a server without an index: deleted in one request
my $flat = "$nginx->{www}/flat";
$node->safe_psql('media', 'DELETE FROM reset_system.purge_queue');
$keys = fill(20, $flat, 'coll');
make_files($flat, [ map { "cache/$_/thumb.png" } 1 .. 25 ]);
configure("http://127.0.0.1:$nginx->{port}/flat/");
$node->safe_psql('media', q{SELECT reset_register_prefix('cache/')});
$node->safe_psql('media', "SELECT reset_execute('RESET-EVERYTHING')");
ok(wait_purge_done($node, 'media'), 'the purge finishes');
ok(!-e "$flat/cache", 'the prefix was deleted as a whole collection');
is($node->safe_psql('media', q{SELECT outcome FROM reset_system.purge_queue WHERE kind = 'prefix'}),
	'purged: collection deleted', 'and recorded so');
is(files_present($flat, $keys), 0, 'the objects of deleted rows are gone too');

# ... but never when a row still references a key under it
$node->safe_psql('media', 'DELETE FROM reset_system.purge_queue');
make_files($flat, [ map { "cache/$_/thumb.png" } 1 .. 5 ]);
$node->safe_psql('media', q{
	CREATE TABLE profiles (id int, picture text);
	INSERT INTO profiles VALUES (1, 'cache/1/thumb.png');
	SELECT reset_register_table('profiles', 'preserve', 'profile', '{picture}');
});
$node->safe_psql('media', "SELECT reset_execute('RESET-EVERYTHING')");
ok(wait_purge_done($node, 'media'), 'the purge ends');
like($node->safe_psql('media', q{SELECT state || ': ' || last_error FROM reset_system.purge_queue WHERE kind = 'prefix'}),
	qr/^failed: the storage server offers no listing, and 1 key\(s\) under prefix "cache\/" are still referenced/,
	'a collection with a referenced key is not deleted, and the reason is kept');
is(files_present($flat, [ map { "cache/$_/thumb.png" } 1 .. 5 ]), 5, 'nothing under it was deleted');
$node->safe_psql('media', q{SELECT reset_unregister_prefix('cache/'); SELECT reset_unregister('profiles')});

# credentials from a file: without it 401, with it the purge works; the
# value appears nowhere
my $authurl = "http://127.0.0.1:$nginx->{port}/auth/";
configure($authurl);
is($node->safe_psql('media', q{SELECT string_agg(check_name || '=' || ok, ' ') FROM reset_storage_check()}),
	'reachable=true credentials=false', 'without credentials the check says they are refused');
my $authfile = $node->basedir . '/http-authorization';
open $fh, '>', $authfile or die;
print $fh "$secret\n";
close $fh;
chmod 0600, $authfile;
$node->safe_psql('media', "LOAD 'reset_system'; ALTER SYSTEM SET reset_system.http_authorization_file = '$authfile'");
$node->reload;
is($node->safe_psql('media', q{SELECT string_agg(check_name || '=' || ok, ' ') FROM reset_storage_check()}),
	'reachable=true credentials=true writable=true', 'with the file the credentials are accepted');
$node->safe_psql('media', 'DELETE FROM reset_system.purge_queue');
$keys = fill(30, "$nginx->{www}/auth", 'auth');
$node->safe_psql('media', "SELECT reset_execute('RESET-EVERYTHING')");
ok(wait_purge_done($node, 'media'), 'the purge with credentials finishes');
is(files_present("$nginx->{www}/auth", $keys), 0, 'and deleted the files');

# a server that never answers: SIGTERM ends the worker at once, nothing lost
my $hole = blackhole();
configure('http://127.0.0.1:' . $hole->sockport . '/');
$node->safe_psql('media', 'DELETE FROM reset_system.purge_queue');
$keys = fill(20, $dav, 'hole');
$node->safe_psql('media', "SELECT reset_execute('RESET-EVERYTHING')");
my $worker = q{backend_type = 'reset_system purge worker' AND datname = 'media'};
ok($node->poll_query_until('media',
	qq{SELECT count(*) = 1 FROM pg_stat_activity WHERE $worker AND query LIKE 'reset_system purge:%'}),
	'the worker waits for the silent server');
sleep 1;
my $pid = $node->safe_psql('media', "SELECT pid FROM pg_stat_activity WHERE $worker");
$t0 = Time::HiRes::time();
kill 'TERM', $pid;
ok($node->poll_query_until('media', "SELECT count(*) = 0 FROM pg_stat_activity WHERE $worker"),
	'SIGTERM ends the worker');
my $took = Time::HiRes::time() - $t0;
cmp_ok($took, '<', 10, "without waiting for the 60 s request timeout (took ${took}s)");
is(pending(), 20, 'every key is still pending');

# cancel: a storage check against the silent server obeys statement_timeout
$t0 = Time::HiRes::time();
my ($ret, $o, $err) = $node->psql('media', "SET statement_timeout = '1s'; SELECT * FROM reset_storage_check()");
like($err, qr/canceling statement due to statement timeout/, 'statement_timeout cancels a storage check');
cmp_ok(Time::HiRes::time() - $t0, '<', 10, 'promptly');
ok($node->poll_query_until('media',
	q{SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'reset_system storage check'}),
	'and its worker is stopped');
close $hole;

configure($nginx->{url});
$node->safe_psql('media', 'SELECT reset_purge_kick()');
ok(wait_purge_done($node, 'media'), 'back on a working server, the purge finishes');
is(files_present($dav, $keys), 0, 'the files are gone');

# the secret appears in no log, table or error text
my $log = slurp_file($node->logfile);
my $tables = $node->safe_psql('media', q{
	SELECT concat_ws(' ', (SELECT string_agg(q::text, ' ') FROM reset_system.purge_queue q),
	                      (SELECT string_agg(h::text, ' ') FROM reset_system.history h),
	                      (SELECT string_agg(a::text, ' ') FROM reset_system.attempts a),
	                      (SELECT string_agg(c::text, ' ') FROM reset_system.storage_checks c),
	                      (SELECT string_agg(s::text, ' ') FROM reset_system.storage s),
	                      reset_plan(), (SELECT string_agg(c::text, ' ') FROM reset_config() c))});
my ($secret_value) = $secret =~ /(rs-http-secret-\w+)/;
unlike($log, qr/\Q$secret_value\E/, 'the credential is not in the server log');
unlike($tables, qr/\Q$secret_value\E/, 'nor in the queue, history, attempts, checks, configuration or plan');
unlike(slurp_file("$nginx->{prefix}/error.log"), qr/\Q$secret_value\E/, 'nor in what the server logged');

nginx_stop($nginx);
$node->stop;
done_testing();

# The s3 backend against S3 servers on 127.0.0.1, each behind a proxy that
# verifies every request's SigV4 signature and Content-MD5 with botocore's
# own signer (test/lib/s3_verify_proxy.py) and injects faults:
#
#   s3rver 3.7.1 from the npm registry, a real S3-compatible server (when
#   the registry could be reached: $S3RVER_BIN), and
#   test/lib/s3_double.py, a test double of S3 written for these tests
#   (always), which also allows exact request counts: it honours Quiet and
#   has none of s3rver's spurious 500s.
#
# Covered: batched DeleteObjects (at most 1000 keys, Content-MD5, Quiet),
# prefix purges over several ListObjectsV2 pages, missing keys, keys
# referenced again, re-seeded files (PUT), the storage check, per-key
# errors (only those keys retried), AccessDenied (failed at once, message
# kept), 503 storms (backoff, a bounded number of requests), the server
# down then up, a server that never answers vs SIGTERM, a wrong secret,
# and credentials that appear nowhere.
use strict;
use warnings;

use File::Path ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes ();
use ResetSystemTest;
use StorageServers;

my $access = 'S3RVER';    # s3rver knows this access key id; it checks no secret
my $secret = 'rs-s3-secret-5b2e81d4';

my $node = new_node('s3', conf => q{
reset_system.purge_retry_base = 200ms
reset_system.purge_retry_max = 1s
reset_system.purge_max_attempts = 100
reset_system.storage_timeout = 60s
});
$node->start;
my $credfile = $node->basedir . '/aws-credentials';
sub write_credentials
{
	my ($key_secret, $token) = @_;
	open my $fh, '>', $credfile or die $!;
	print $fh "[default]\naws_access_key_id = $access\naws_secret_access_key = $key_secret\n";
	print $fh "aws_session_token = $token\n" if defined $token;
	close $fh;
	chmod 0600, $credfile;
}
write_credentials($secret);
$node->safe_psql('postgres', "LOAD 'reset_system'; ALTER SYSTEM SET reset_system.s3_credentials_file = '$credfile'");
$node->reload;

my $seed = $node->basedir . '/seed-logo.png';
open my $sfh, '>', $seed or die;
print $sfh "logo\n";
close $sfh;

# ---- the servers ----------------------------------------------------------

# Each server: a name, how to seed objects and which of some keys exist.
my @servers;
{
	my $double = start_helper('S3 test double', python3(), 'test/lib/s3_double.py',
		'--port', '0', '--bucket', 'uploads');
	push @servers, {
		name => 'S3 test double', exact => 1, port => $double->{port}, helper => $double,
		seed => sub { control($double, 'POST', '/_test/seed/uploads', { keys => $_[0], body => "x\n" }) },
		present => sub {
			# the keys come back as characters; the tests' keys are UTF-8 bytes
			my %have = map { my $k = $_; utf8::encode($k); ($k => 1) }
			  @{ control($double, 'GET', '/_test/keys/uploads') };
			return scalar grep { $have{$_} } @{ $_[0] };
		},
	};
}
if ($ENV{S3RVER_BIN} && -x $ENV{S3RVER_BIN})
{
	my $dir = $node->basedir . '/s3rver';
	my $s3rver = start_s3rver($ENV{S3RVER_BIN}, $dir);
	push @servers, {
		name => 's3rver', exact => 0, port => $s3rver->{port}, helper => $s3rver,
		# s3rver's own layout; objects written this way are served as if PUT
		seed => sub {
			for my $key (@{ $_[0] })
			{
				my $base = "$dir/data/uploads/$key";
				(my $d = $base) =~ s{/[^/]*$}{};
				File::Path::make_path($d);
				open my $fh, '>', "$base._S3rver_object" or die $!;
				print $fh "x\n";
				close $fh;
			}
		},
		present => sub { return scalar grep { -e "$dir/data/uploads/$_._S3rver_object" } @{ $_[0] } },
	};
}
else
{
	diag 's3rver is not installed here (the npm registry could not be reached): '
	  . 'the S3 tests run against the S3 test double only';
}

# keys(PREFIX, DIRS, PER_DIR): fixed-width keys at one depth (s3rver lists
# such keys in S3 order)
sub keys_for
{
	my ($prefix, $dirs, $per) = @_;
	my @k;
	for my $d (0 .. $dirs - 1)
	{
		push @k, map { sprintf('%s/d%02d/%06d.bin', $prefix, $d, $d * $per + $_) } 1 .. $per;
	}
	return \@k;
}

for my $srv (@servers)
{
	my $label = $srv->{name};
	(my $db = "s3_$label") =~ s/\W+/_/g;
	my $proxy = start_helper("verifying proxy for $label", python3(), 'test/lib/s3_verify_proxy.py',
		'--listen-port', '0', '--upstream', "http://127.0.0.1:$srv->{port}",
		'--access-key', $access, '--secret-key', $secret, '--region', 'us-east-1');
	my $endpoint = "http://127.0.0.1:$proxy->{port}";

	$node->safe_psql('postgres', qq{CREATE DATABASE "$db"});
	label_db($node, $db);
	$node->safe_psql($db, qq{
		CREATE TABLE media (id serial PRIMARY KEY, file_key text);
		CREATE TABLE profiles (id int, picture text);
		CREATE EXTENSION reset_system;
		SELECT reset_register_table('media', 'delete', 'media file', '{file_key}');
		SELECT reset_register_table('profiles', 'preserve', 'profile', '{picture}');
		SELECT reset_configure_storage('s3', jsonb_build_object('bucket', 'uploads',
			'endpoint', '$endpoint', 'path_style', true, 'region', 'us-east-1'));
	});
	my $q = sub { $node->safe_psql($db, $_[0]) };
	my $fill = sub {
		my ($keys) = @_;
		$q->('DELETE FROM reset_system.purge_queue');
		$q->("INSERT INTO media (file_key) SELECT unnest(ARRAY['" . join("','", @$keys) . "'])");
	};
	my $stats = sub { control($proxy, 'GET', '/_control/stats') };
	my $pending = sub { $q->(q{SELECT count(*) FROM reset_system.purge_queue WHERE state = 'pending'}) };

	is($q->(q{SELECT string_agg(check_name || '=' || ok, ' ') FROM reset_storage_check()}),
		'reachable=true credentials=true bucket=true', "$label: the storage check passes");

	# -- deletes in batches, a prefix over several list pages, a seed ----------
	my $rows = keys_for('rows', 25, 100);
	my $missing = keys_for('gone', 1, 100);
	my $listed = keys_for('listed', 25, 100);
	$srv->{seed}->([ @$rows, @$listed ]);
	$fill->([ @$rows, @$missing ]);
	$q->(qq{INSERT INTO profiles VALUES (1, '$listed->[42]')});
	$q->(q{SELECT reset_register_prefix('listed/')});
	$q->(qq{SELECT reset_register_rebuild('logo', \$\$SELECT reset_seed_object('branding/logo.png', '$seed')\$\$)});
	control($proxy, 'POST', '/_control/reset');
	$q->(q{SELECT reset_execute('RESET-EVERYTHING')});
	is($q->(q{SELECT reset_purge_wait('120 seconds')}),
		'Purged 5,099 storage object(s). Uploaded 1 resource file(s).',
		"$label: 2,600 rows' keys and 2,499 listed objects purged, one file uploaded");
	is($srv->{present}->($rows), 0, "$label: the objects of deleted rows are gone");
	is($srv->{present}->($listed), 1, "$label: the listed prefix is empty but for the referenced key");
	is($srv->{present}->([ $listed->[42], 'branding/logo.png' ]), 2,
		"$label: the referenced key is kept and the seeded file uploaded");
	my $s = $stats->();
	is($s->{signature_failures}, 0, "$label: every request's signature and Content-MD5 verified")
	  or diag explain $s->{failure_reasons};
	cmp_ok($s->{list_requests}, '>=', 3, "$label: the prefix was listed over several pages ($s->{list_requests} requests)");
	if ($srv->{exact})
	{
		is($s->{delete_objects_requests}, 6, "$label: 5,099 keys in 6 DeleteObjects requests (at most 1000 keys each)");
		is($s->{keys_in_delete_requests}, 5099, "$label: each key sent once");
		is($s->{list_requests}, 3, "$label: 2,500 objects listed in 3 pages");
		is($s->{delete_requests}, 0, "$label: no single-object DELETE");
	}
	$q->(q{SELECT reset_unregister_prefix('listed/'); SELECT reset_unregister_rebuild('logo'); DELETE FROM profiles});

	# -- keys with "+", space, "%", unicode and "~" in every part of a request --
	# in DeleteObjects bodies, in a listed prefix and its continuation token
	# (the double's tokens hold "+", "/" and "=", like S3's), and in the
	# path of a PUT: each must be signed exactly as it is sent
	my $odd_prefix = "odd +%~\xc3\xa9/";
	my @odd_rows = map { sprintf("odd rows/a+b %%41~\xc3\xa9-%04d.bin", $_) } 1 .. 50;
	my @odd_listed = map { sprintf("%sx+y z%%2B~\xc3\xbc-%04d.bin", $odd_prefix, $_) } 1 .. 1100;
	my $odd_seed = "branding/logo +%2B~\xc3\xa9.png";
	$srv->{seed}->([ @odd_rows, @odd_listed ]);
	$fill->(\@odd_rows);
	$q->("SELECT reset_register_prefix('$odd_prefix')");
	$q->(qq{SELECT reset_register_rebuild('odd logo', \$\$SELECT reset_seed_object('$odd_seed', '$seed')\$\$)});
	control($proxy, 'POST', '/_control/reset');
	$q->(q{SELECT reset_execute('RESET-EVERYTHING')});
	is($q->(q{SELECT reset_purge_wait('120 seconds')}),
		'Purged 1,150 storage object(s). Uploaded 1 resource file(s).',
		"$label: keys with + space % unicode ~ purged, listed over two pages, one uploaded");
	is($srv->{present}->([ @odd_rows, @odd_listed ]), 0, "$label: every such object is gone");
	is($srv->{present}->([$odd_seed]), 1, "$label: the file with such a key was uploaded under its own name");
	$s = $stats->();
	is($s->{signature_failures}, 0, "$label: every such request's signature verified")
	  or diag explain $s->{failure_reasons};
	cmp_ok($s->{list_requests}, '>=', 2, "$label: the listing went on with a continuation token");
	is($s->{list_requests}, 2, "$label: 1,100 objects listed in 2 pages") if $srv->{exact};
	$q->(qq{SELECT reset_unregister_prefix('$odd_prefix'); SELECT reset_unregister_rebuild('odd logo')});

	# -- per-key errors: only those keys are retried -----------------------------
	my $part = keys_for('part', 3, 100);
	$srv->{seed}->($part);
	$fill->($part);
	control($proxy, 'POST', '/_control/reset');
	control($proxy, 'POST', '/_control/key_errors', { match => 'part/d01/', count => 1,
		code => 'InternalError', message => 'We encountered an internal error. Please try again.' });
	$q->(q{SELECT reset_execute('RESET-EVERYTHING')});
	is($q->(q{SELECT reset_purge_wait('60 seconds')}), 'Purged 300 storage object(s).',
		"$label: a batch with failing keys completes");
	is($srv->{present}->($part), 0, "$label: every object is gone");
	if (!$srv->{exact})
	{
		# s3rver answers 500 (after deleting) when a request empties a
		# directory, so any key may see one more attempt there
		cmp_ok($q->(q{SELECT min(attempts) FROM reset_system.purge_queue WHERE key LIKE 'part/d01/%'}),
			'>=', 2, "$label: the keys the answer listed as errors were retried");
	}
	else
	{
		is($q->(q{SELECT min(attempts) || '-' || max(attempts) FROM reset_system.purge_queue WHERE key LIKE 'part/d01/%'}),
			'2-2', "$label: the keys the answer listed as errors were retried once");
		is($q->(q{SELECT DISTINCT attempts FROM reset_system.purge_queue WHERE key NOT LIKE 'part/d01/%'}),
			'1', "$label: the others were sent once");
		is($stats->()->{keys_in_delete_requests}, 400, "$label: 300 keys plus the 100 retried");
	}

	# -- AccessDenied on some keys: failed at once, with S3's message -----------
	my $deny = keys_for('deny', 1, 50);
	my $okay = keys_for('okay', 1, 50);
	$srv->{seed}->([ @$deny, @$okay ]);
	$fill->([ @$deny, @$okay ]);
	control($proxy, 'POST', '/_control/reset');
	control($proxy, 'POST', '/_control/forbid', { match => 'deny/' });
	$q->(q{SELECT reset_execute('RESET-EVERYTHING')});
	ok(wait_purge_done($node, $db), "$label: the purge ends");
	my $denied = $q->(q{SELECT state || ' ' || attempts || ' ' || last_error FROM reset_system.purge_queue
		WHERE key LIKE 'deny/%' GROUP BY 1});
	if ($srv->{exact})
	{
		is($denied, 'failed 1 S3 AccessDenied: Access Denied',
			"$label: denied keys failed at the first attempt, with S3's code and message");
	}
	else
	{
		# one more attempt when s3rver's spurious 500 hit the whole request
		like($denied, qr/^failed [12] S3 AccessDenied: Access Denied$/,
			"$label: denied keys failed, not retried once S3 denied them, with S3's code and message");
	}
	is($srv->{present}->($okay), 0, "$label: the other keys are deleted");
	is($srv->{present}->($deny), 50, "$label: the denied objects are untouched");
	control($proxy, 'POST', '/_control/reset');

	# -- a 503 SlowDown storm: backoff, no request storm --------------------------
	my $storm = keys_for('storm', 30, 100);
	$srv->{seed}->($storm);
	$fill->($storm);
	control($proxy, 'POST', '/_control/fail', { status => 503, count => -1, op => 'delete_objects' });
	$q->(q{SELECT reset_execute('RESET-EVERYTHING')});
	sleep 4;
	my $sent = $stats->()->{delete_objects_requests};
	note "$label: $sent DeleteObjects requests in 4 s of 503 SlowDown for 3,000 keys";
	cmp_ok($sent, '>=', 3, "$label: the worker tries");
	cmp_ok($sent, '<=', 45, "$label: and backs off (3 requests a round at most, rounds spaced out)");
	like($q->(q{SELECT min(last_error) FROM reset_system.purge_queue}), qr/^HTTP 503 SlowDown: /,
		"$label: the error is kept while it lasts");
	is($pending->(), 3000, "$label: nothing is lost or given up");
	control($proxy, 'POST', '/_control/reset');
	ok(wait_purge_done($node, $db), "$label: once the storm is over the purge completes");
	is($srv->{present}->($storm), 0, "$label: every object is gone");

	# -- the server down, then up ---------------------------------------------------
	my $down = keys_for('down', 2, 100);
	$srv->{seed}->($down);
	$fill->($down);
	stop_helper($proxy);
	$q->(q{SELECT reset_execute('RESET-EVERYTHING')});
	ok($node->poll_query_until($db,
		q{SELECT count(*) > 0 FROM reset_system.purge_queue WHERE last_error LIKE '%could not connect to the server%'}),
		"$label: with the server down, the error says so");
	$proxy = start_helper("verifying proxy for $label", python3(), 'test/lib/s3_verify_proxy.py',
		'--listen-port', $proxy->{port}, '--upstream', "http://127.0.0.1:$srv->{port}",
		'--access-key', $access, '--secret-key', $secret, '--region', 'us-east-1');
	ok(wait_purge_done($node, $db), "$label: when it is back the purge finishes");
	is($srv->{present}->($down), 0, "$label: the objects are gone");

	# -- a server that does not answer: SIGTERM ends the worker, nothing lost ----
	my $slow = keys_for('slow', 1, 100);
	$srv->{seed}->($slow);
	$fill->($slow);
	control($proxy, 'POST', '/_control/delay', { ms => 30000, count => -1 });
	$q->(q{SELECT reset_execute('RESET-EVERYTHING')});
	my $worker = qq{backend_type = 'reset_system purge worker' AND datname = '$db'};
	ok($node->poll_query_until($db,
		qq{SELECT count(*) = 1 FROM pg_stat_activity WHERE $worker AND query LIKE 'reset_system purge:%'}),
		"$label: the worker waits for the slow server");
	sleep 1;
	my $pid = $q->("SELECT pid FROM pg_stat_activity WHERE $worker");
	my $t0 = Time::HiRes::time();
	kill 'TERM', $pid;
	ok($node->poll_query_until($db, "SELECT count(*) = 0 FROM pg_stat_activity WHERE $worker"),
		"$label: SIGTERM ends the worker");
	cmp_ok(Time::HiRes::time() - $t0, '<', 10, "$label: at once, not after the request timeout");
	is($pending->(), 100, "$label: the keys are still pending");
	control($proxy, 'POST', '/_control/reset');
	$q->('SELECT reset_purge_kick()');
	ok(wait_purge_done($node, $db), "$label: a new worker finishes the purge");
	is($srv->{present}->($slow), 0, "$label: the objects are gone");

	# -- a wrong secret: the check shows S3's answer ------------------------------
	write_credentials('wrong-secret');
	like($q->(q{SELECT string_agg(check_name || '=' || ok || ': ' || detail, E'\n') FROM reset_storage_check()}),
		qr/reachable=true: .*\ncredentials=false: HTTP 403 SignatureDoesNotMatch: /,
		"$label: a wrong secret is reported by the storage check");
	write_credentials($secret);

	stop_helper($proxy);
}

# ---- a session token: sent as x-amz-security-token, and signed ----------------
{
	my $double = $servers[0];
	my $token = 'IQoJb3JpZ2luX2VjE+token/with=base64+like//chars';
	my $proxy = start_helper('verifying proxy that wants a session token', python3(),
		'test/lib/s3_verify_proxy.py', '--listen-port', '0',
		'--upstream', "http://127.0.0.1:$double->{port}", '--access-key', $access,
		'--secret-key', $secret, '--region', 'us-east-1', '--session-token', $token);
	(my $db = "s3_$double->{name}") =~ s/\W+/_/g;
	my $q = sub { $node->safe_psql($db, $_[0]) };
	my $check = q{SELECT string_agg(check_name || '=' || ok || ': ' || detail, E'\n') FROM reset_storage_check()};
	$q->(qq{SELECT reset_configure_storage('s3', jsonb_build_object('bucket', 'uploads',
		'endpoint', 'http://127.0.0.1:$proxy->{port}', 'path_style', true))});
	write_credentials($secret, $token);
	like($q->($check), qr/^reachable=true: .*\ncredentials=true: .*\nbucket=true: /,
		'with a session token in the credentials file the storage check passes');
	my $keys = keys_for('token', 1, 20);
	$double->{seed}->($keys);
	$q->('DELETE FROM reset_system.purge_queue');
	$q->("INSERT INTO media (file_key) SELECT unnest(ARRAY['" . join("','", @$keys) . "'])");
	$q->(q{SELECT reset_execute('RESET-EVERYTHING')});
	is($q->(q{SELECT reset_purge_wait('60 seconds')}), 'Purged 20 storage object(s).',
		'and the purge goes through');
	is($double->{present}->($keys), 0, 'the objects are gone');
	my $st = control($proxy, 'GET', '/_control/stats');
	is($st->{signature_failures}, 0, 'every request carried the token, signed')
	  or diag explain $st->{failure_reasons};
	write_credentials($secret);
	like($q->($check), qr/credentials=false: HTTP 403 InvalidToken: /,
		'without the token the store refuses, and the check says so');
	stop_helper($proxy);
}

# the secret appears in no log, table or plan
my $log = slurp_file($node->logfile);
unlike($log, qr/\Q$secret\E/, 'the secret is not in the server log');
for my $srv (@servers)
{
	(my $db = "s3_$srv->{name}") =~ s/\W+/_/g;
	my $all = $node->safe_psql($db, q{
		SELECT concat_ws(' ', (SELECT string_agg(q::text, ' ') FROM reset_system.purge_queue q),
		                      (SELECT string_agg(h::text, ' ') FROM reset_system.history h),
		                      (SELECT string_agg(a::text, ' ') FROM reset_system.attempts a),
		                      (SELECT string_agg(c::text, ' ') FROM reset_system.storage_checks c),
		                      (SELECT string_agg(s::text, ' ') FROM reset_system.storage s),
		                      reset_plan(), (SELECT string_agg(c::text, ' ') FROM reset_config() c))});
	unlike($all, qr/\Q$secret\E/, "$srv->{name}: nor in the queue, history, attempts, checks, configuration or plan");
}
$node->safe_psql('postgres', 'CREATE ROLE rs_nobody');
my ($ret, $out, $err) = $node->psql('postgres', "LOAD 'reset_system'; SET ROLE rs_nobody; SHOW reset_system.s3_credentials_file");
# (the server's words: "must be superuser or have privileges of
# pg_read_all_settings to examine" up to 15, "permission denied to examine" from 16)
like($err, qr/(?:must be superuser or have privileges of pg_read_all_settings|permission denied) to examine "reset_system.s3_credentials_file"/,
	'the credentials file setting is hidden from other roles');
($ret, $out, $err) = $node->psql('postgres', "SET ROLE rs_nobody; SELECT pg_read_file('$credfile')");
like($err, qr/permission denied for function pg_read_file/, 'and they cannot read the file');

stop_helper($_->{helper}) for grep { $_->{helper}{fh} } @servers;
kill 'TERM', $_->{helper}{pid} for grep { !$_->{helper}{fh} && $_->{helper}{pid} } @servers;
$node->stop;
done_testing();

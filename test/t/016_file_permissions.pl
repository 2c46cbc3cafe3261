# The media-permissions trap of the file backend, as a Django (or Rails,
# or Node) application sets it: the application runs as its own OS user
# and creates its upload directories 0755; the storage root itself is
# writable by the database server (through its group), every directory
# below it is not.
#
# The plan's storage check looks where the purge will act (the parent
# directories of the keys a reset would queue) and names the directories
# that fail, with their owner and mode, and a fix.  A purge started anyway
# fails with the honest local error and retries; once the fix is applied,
# executed as printed, the purge completes with no failure.
#
# The application's OS user is rs_app, created by test/lib/common.sh
# (setup_app_user) with a sudo rule for the PostgreSQL OS user.
use strict;
use warnings;

use File::Path ();
use File::Temp ();
use IPC::Run ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes ();
use ResetSystemTest;

my $app = $ENV{RS_APP_USER} // 'rs_app';
system('sudo', '-n', '-u', $app, 'true') == 0
  or die "cannot run commands as OS user \"$app\": run this test through test/run-tests.sh, which creates it";

# as_app(COMMAND, STDIN): run a shell command as the application's user
sub as_app
{
	my ($cmd, $stdin) = @_;
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run([ 'sudo', '-n', '-u', $app, '/bin/sh', '-c', $cmd ],
		'<', \($stdin // ''), '>', \$out, '2>', \$err);
	return ($ok, $out . $err);
}

my $node = new_node('perms', conf => q{
reset_system.purge_retry_base = 200ms
reset_system.purge_retry_max = 1s
reset_system.purge_max_attempts = 1000
reset_system.storage_check_cache = 0
});
$node->start;
my $db = 'app';
$node->safe_psql('postgres', "CREATE DATABASE $db");
label_db($node, $db);
$node->safe_psql($db, slurp_file('test/fixtures/validation_app.sql'));
$node->safe_psql($db, 'SELECT app.generate_demo_data(1)');
$node->safe_psql($db, q{
	CREATE EXTENSION reset_system;
	SELECT count(*) FROM reset_register_schema('app', ARRAY['schema_migrations', 'organizations', 'users']);
	SELECT reset_register_table('app.submissions', 'delete', 'submission', '{file_key}');
	SELECT reset_register_table('app.validation_runs', 'delete', 'validation run', '{report_key}');
	SELECT reset_register_table('app.validators', 'delete', 'validator', '{rules_key}');
	SELECT reset_register_table('app.users', 'preserve', 'user', '{avatar_key}');
	SELECT reset_register_rebuild('baseline validator', 'SELECT app.seed_validators()');
});

# the application's media directory: the root belongs to the application
# and is group-writable for the database server's group; everything the
# application creates below it is 0755 and 0644, as with umask 022
my $server_group = getgrgid((split ' ', $))[0]);
my $tmp = File::Temp::tempdir('rs-perms-XXXXXX', TMPDIR => 1, CLEANUP => 0);
chmod 01777, $tmp;
my $root = "$tmp/media";
my ($ok, $out) = as_app("umask 022 && mkdir '$root' && chgrp '$server_group' '$root' && chmod 0775 '$root'");
ok($ok, 'the application creates its media root, writable by the server\'s group') or diag $out;
my $keys = app_keys($node, $db, 'all');
my $deleted = app_keys($node, $db, 'deleted');
($ok, $out) = as_app(q{umask 022 && cd '} . $root . q{' && /usr/bin/python3 -c '
import os, sys
for key in sys.stdin.read().split("\n"):
    if key:
        os.makedirs(os.path.dirname(key) or ".", exist_ok=True)
        open(key, "w").write("content of " + key + "\n")
'}, join("\n", @$keys));
ok($ok, 'the application writes its uploads, in directories of its own') or diag $out;
is(files_present($root, $keys), scalar @$keys, 'every referenced file exists');
my @sub = grep { -d } glob("$root/*");
is(sprintf('%04o %s', (stat $sub[0])[2] & 07777, scalar getpwuid((stat $sub[0])[4])), "0755 $app",
	'the subdirectories are 0755 and belong to the application');

$node->safe_psql($db, "SELECT reset_configure_storage('file', jsonb_build_object('root', '$root'))");

# ---- the plan shows the trap --------------------------------------------------
my $plan = $node->safe_psql($db, 'SELECT reset_plan()');
my ($check) = $plan =~ /^(Storage check:\n(?:  .*\n)+)/m;
note "the plan's storage check before the fix:\n$check";
like($check, qr/^  ok      writable     the server can write in it$/m, 'the root itself is writable');
like($check, qr/^  FAILED  directories  the server's OS user "\w+" cannot delete files in (\d+) of the \1 director\(ies\) under \Q$root\E sampled from \d+ key\(s\) of deleted rows: /m,
	'but no directory where the purge would delete files is');
like($check, qr/: (?:uploads|reports)\/\S+ \(not writable: owner $app, group $app, mode 0755\)/,
	'the failing directories are named with their owner and mode');
my ($fix) = $check =~ /Fix \(as root or as the directories' owner\): (.*?); then let the application create group-writable directories \(Django: FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o2775/;
is($fix, "find '$root' -type d -exec chgrp $server_group {} + -exec chmod g+rwxs {} +",
	'the fix gives the tree to the server\'s group, group-writable and setgid');
like($plan, qr/^  - storage check "directories" failed: .*; the purge after commit would fail and retry/m,
	'and the plan warns');

# ---- a purge started anyway fails honestly, and keeps retrying ----------------
$node->safe_psql($db, "SELECT reset_execute('RESET-EVERYTHING')");
ok($node->poll_query_until($db,
	q{SELECT count(*) > 0 FROM reset_system.purge_queue WHERE last_error LIKE '%Permission denied%'}),
	'the purge fails on the application\'s directories');
like($node->safe_psql($db, q{SELECT last_error FROM reset_purge_status() WHERE state = 'pending'}),
	qr/^cannot delete "[^"]+": Permission denied \(\d+ object\(s\) failed the same way\)$/,
	'reset_purge_status() says it as a local-disk error, with how many share it');
my $warned = 0;
for (1 .. 100)
{
	last if ($warned = $node->log_contains(qr/WARNING:  reset_system: purge of reset 1: none of the \d+ file\(s\) of the round could be deleted from directory \Q$root\E; waiting \d+ ms before the next round/));
	Time::HiRes::sleep(0.1);
}
ok($warned, 'the server log says it the same way, once per round');
my $log = slurp_file($node->logfile);
unlike($log, qr/request\(s\)|storm/, 'never as requests a server asked to retry');

# ---- the fix, as printed ------------------------------------------------------
($ok, $out) = as_app($fix);
ok($ok, 'the printed fix runs as the application\'s user') or diag $out;
ok($node->poll_query_until($db, q{SELECT purge_finished_at IS NOT NULL FROM reset_system.history }),
	'the pending purge then finishes');
is($node->safe_psql($db, q{SELECT purged || ' ' || purge_failed FROM reset_system.history}),
	scalar(@$deleted) . ' 0', 'every file of a deleted row purged, none failed');
is(files_present($root, $deleted), 0, 'they are gone from the disk');
is(files_present($root, app_keys($node, $db, 'preserved')), scalar @{ app_keys($node, $db, 'preserved') },
	'the preserved users\' avatars are still there');

# a new directory made by the application after the fix (setgid: the
# server's group), with Django's FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o2775
($ok, $out) = as_app("umask 002 && mkdir -p '$root/uploads/new/2030' && echo x > '$root/uploads/new/2030/a.txt'");
ok($ok, 'the application creates a new upload directory') or diag $out;
is(scalar getgrgid((stat "$root/uploads/new/2030")[5]), $server_group, 'which inherits the server\'s group');
$node->safe_psql($db, q{INSERT INTO app.validators (slug, name, rules_key) VALUES ('new', 'New', 'uploads/new/2030/a.txt')});
$plan = $node->safe_psql($db, 'SELECT reset_plan()');
like($plan, qr/^  ok      directories  the server can delete files in each of the \d+ director\(ies\) sampled from \d+ key\(s\) of deleted rows/m,
	'the storage check now passes');
($check) = $plan =~ /^(Storage check:\n(?:  .*\n)+)/m;
note "the plan's storage check after the fix:\n$check";

# a file the reset re-seeds is the application's to serve and replace: its
# new directory and the file take the permissions of the directory above
my $logo = $node->basedir . '/logo.png';
open my $fh, '>', $logo or die;
print $fh "logo\n";
close $fh;
$node->safe_psql($db, qq{SELECT reset_register_rebuild('logo', \$\$SELECT reset_seed_object('uploads/seeded/logo.png', '$logo')\$\$)});
$node->safe_psql($db, "SELECT reset_execute('RESET-EVERYTHING')");
like($node->safe_psql($db, "SELECT reset_purge_wait('60 seconds')"), qr/Uploaded 1 resource file\(s\)\.$/, 'the seed is uploaded');
is(sprintf('%04o %04o', (stat "$root/uploads/seeded")[2] & 07777, (stat "$root/uploads/seeded/logo.png")[2] & 07777),
	'2775 0664', 'in a group-writable setgid directory, as a group-writable file (not the server\'s umask 077)');
($ok, $out) = as_app("rm '$root/uploads/seeded/logo.png' && rmdir '$root/uploads/seeded'");
ok($ok, 'which the application may delete') or diag $out;

$node->stop;
system('sudo', '-n', '-u', $app, 'rm', '-rf', $root);
File::Path::rmtree($tmp);
done_testing();

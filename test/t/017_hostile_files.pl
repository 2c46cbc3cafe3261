# A resource file that reset_seed_object uploads is read by the server.
# Whatever is planted at its path -- a named pipe, a symbolic link, a
# directory, a device -- is refused with a clear error, when the rebuild
# step queues the upload and again when the purge worker reads it; the
# worker never blocks on it, and a fast shutdown stops it promptly.
use strict;
use warnings;

use POSIX qw(mkfifo);
use Time::HiRes qw(time);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use ResetSystemTest;

my $node = new_node('hostile_files');
$node->start;
label_db($node, 'postgres');
my $base = $node->basedir;
my $root = "$base/media";
mkdir $root;
$node->safe_psql('postgres', qq{
	CREATE TABLE media (id serial PRIMARY KEY, file_key text);
	INSERT INTO media (file_key) VALUES ('m/1.bin'), ('m/2.bin');
	CREATE EXTENSION reset_system;
	SELECT reset_register_table('media', 'delete', 'media file', '{file_key}');
	SELECT reset_configure_storage('file', jsonb_build_object('root', '$root'));
});
make_files($root, [ 'm/1.bin', 'm/2.bin' ]);

# write_file(PATH): a small regular file.
sub write_file
{
	my ($path) = @_;
	open my $fh, '>', $path or die "cannot create $path: $!";
	print $fh "resource\n";
	close $fh;
	return;
}

# register_seeds(SOURCES): one rebuild step per source path, seeding key
# seed/N from source N.
sub register_seeds
{
	my (@sources) = @_;
	$node->safe_psql('postgres', q{SELECT reset_unregister_rebuild(label) FROM reset_system.rebuild_steps});
	for my $i (0 .. $#sources)
	{
		$node->safe_psql('postgres', qq{SELECT reset_register_rebuild('seed $i',
			\$\$SELECT reset_seed_object('seed/$i.bin', '$sources[$i]')\$\$)});
	}
	return;
}

my $regular = "$base/regular.bin";
write_file($regular);
my $fifo = "$base/pipe.bin";
mkfifo($fifo, 0600) or die "mkfifo: $!";
my $link = "$base/link.bin";
symlink($regular, $link) or die "symlink: $!";
my $dir = "$base/dir.bin";
mkdir $dir;

# ---- when the rebuild step queues the upload --------------------------------
my %kinds = ($fifo => 'is a named pipe, not a regular file',
	$link => 'is a symbolic link',
	$dir => 'is a directory, not a regular file',
	'/dev/zero' => 'is a character device, not a regular file');
for my $path ($fifo, $link, $dir, '/dev/zero')
{
	register_seeds($path);
	my $t0 = time;
	my ($state, $err) = psql_error($node, 'postgres', "SELECT reset_execute('RESET-EVERYTHING')");
	cmp_ok(time - $t0, '<', 10, "$path: refused at once");
	is($state, '42809', "$path: refused as the wrong kind of object");
	like($err, qr/source file "\Q$path\E" \Q$kinds{$path}\E/, "$path: the error says what it is")
		or diag $err;
	like($err, qr/HINT:/, "$path: with a hint");
}
is($node->safe_psql('postgres', 'SELECT count(*) FROM media'), '2', 'the refused resets changed nothing');
is($node->safe_psql('postgres', 'SELECT count(*) FROM reset_system.purge_queue'), '0', 'and queued nothing');

# ---- when the worker reads it: planted after the upload was queued -----------
my @sources = map { "$base/source$_.bin" } 0 .. 3;
write_file($_) for @sources;
register_seeds(@sources);
$node->safe_psql('postgres', "LOAD 'reset_system'; ALTER SYSTEM SET reset_system.purge_paused = on");
$node->reload;
$node->safe_psql('postgres', "SELECT reset_execute('RESET-EVERYTHING')");
is($node->safe_psql('postgres', q{SELECT count(*) FROM reset_system.purge_queue WHERE kind = 'upload'}),
	'4', 'four uploads are queued');

unlink $sources[0];
mkfifo($sources[0], 0600) or die "mkfifo: $!";
unlink $sources[1];
symlink($regular, $sources[1]) or die "symlink: $!";
unlink $sources[2];
mkdir $sources[2];
# the queue is in pg_dump and can be edited: its source path is checked too
$node->safe_psql('postgres', q{UPDATE reset_system.purge_queue SET source = '/dev/zero' WHERE key = 'seed/3.bin'});

$node->safe_psql('postgres', "LOAD 'reset_system'; ALTER SYSTEM SET reset_system.purge_paused = off");
$node->reload;
$node->safe_psql('postgres', 'SELECT reset_purge_kick()');
my %expect = ('seed/0.bin' => qr/is a named pipe, not a regular file/,
	'seed/1.bin' => qr/is a symbolic link/,
	'seed/2.bin' => qr/is a directory, not a regular file/,
	'seed/3.bin' => qr/"\/dev\/zero" is a character device, not a regular file/);
ok($node->poll_query_until('postgres',
	q{SELECT count(*) = 4 FROM reset_system.purge_queue WHERE kind = 'upload' AND last_error IS NOT NULL}, 't'),
	'the worker records an error for each planted source')
	or diag $node->safe_psql('postgres', q{SELECT key, state, last_error FROM reset_system.purge_queue WHERE kind = 'upload'});
for my $key (sort keys %expect)
{
	like($node->safe_psql('postgres', qq{SELECT last_error FROM reset_system.purge_queue WHERE key = '$key'}),
		$expect{$key}, "$key: the error names what was planted");
}
ok(!-e "$root/seed/0.bin" && !-e "$root/seed/3.bin", 'nothing was uploaded from them');
# a credentials file the server reads is never waited on either: a named
# pipe named as the GCS token file makes the storage check fail, saying so
my $token_fifo = "$base/token.pipe";
mkfifo($token_fifo, 0600) or die "mkfifo: $!";
$node->safe_psql('postgres', qq{
	LOAD 'reset_system';
	ALTER SYSTEM SET reset_system.gcs_token_file = '$token_fifo';
	SELECT pg_reload_conf();
	SELECT reset_configure_storage('gcs', '{"bucket": "app-uploads", "endpoint": "http://127.0.0.1:9"}');
});
my ($rc, $out, $err) = $node->psql('postgres',
	q{SET statement_timeout = '30s'; SELECT check_name, ok, detail FROM reset_storage_check()});
is($rc, 0, 'a storage check with a named pipe as the token file answers');
like($out, qr/token\.pipe" is not a regular file/, 'and says the token file is not a regular file');
$node->safe_psql('postgres', qq{
	ALTER SYSTEM RESET reset_system.gcs_token_file;
	SELECT pg_reload_conf();
	SELECT reset_configure_storage('file', jsonb_build_object('root', '$root'));
});

# a named pipe and a link planted in the attempt journal are moved aside,
# not waited on, when the journal is read
my $journal = $node->data_dir . '/pg_reset_system/journal';
mkdir $journal unless -d $journal;
my $dboid = $node->safe_psql('postgres', q{SELECT oid FROM pg_database WHERE datname = current_database()});
my $jfifo = "$journal/$dboid-planted-pipe.json";
my $jlink = "$journal/$dboid-planted-link.json";
mkfifo($jfifo, 0600) or die "mkfifo: $!";
symlink($regular, $jlink) or die "symlink: $!";
($rc, $out, $err) = $node->psql('postgres',
	q{SET statement_timeout = '30s'; SELECT count(*) >= 0 FROM reset_history()});
is($rc, 0, 'reset_history() answers with a named pipe and a link in the journal');
ok(!-e $jfifo && !-l $jlink, 'both are moved aside');
like($err, qr/not a regular file/, 'the warning says the pipe is not a regular file');

# a fast shutdown stops the worker promptly
my $t0 = time;
my $stopped;
{
	local $ENV{PGCTLTIMEOUT} = 30;
	$stopped = $node->stop('fast', fail_ok => 1);
}
ok($stopped, 'pg_ctl stop -m fast succeeds');
cmp_ok(time - $t0, '<', 20, 'and within seconds');
unless ($stopped)
{
	# release a worker blocked on the named pipe, so the node can stop
	if (open my $w, '>', $sources[0]) { close $w; }
	$node->stop('immediate', fail_ok => 1);
}
done_testing();

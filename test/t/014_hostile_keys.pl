# Keys come from application data and are hostile input.  A key that is
# absolute, has "." / ".." / empty segments, a control character, or
# reaches through a symbolic link is never acted on: the row is marked
# failed with the reason, and nothing outside the storage root is touched.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use ResetSystemTest;

my $node = new_node('hostile');
$node->start;
label_db($node, 'postgres');
my $base = $node->basedir;
my $root = "$base/media";
mkdir $root;

# things outside the root that must survive
append_to_file("$base/outside.txt", "outside\n");
append_to_file("$base/absolute.txt", "absolute\n");
mkdir "$base/secretdir";
append_to_file("$base/secretdir/secret.txt", "secret\n");
append_to_file("$base/target.txt", "target\n");
mkdir "$base/elsewhere";
append_to_file("$base/elsewhere/x.txt", "elsewhere\n");
my %sentinels = map { $_ => slurp_file($_) }
  ("$base/outside.txt", "$base/absolute.txt", "$base/secretdir/secret.txt",
	"$base/target.txt", "$base/elsewhere/x.txt");

# inside the root: symbolic links out, a file with a newline in its name,
# a directory, and one ordinary file
symlink "$base/secretdir", "$root/link" or die;
symlink "$base/target.txt", "$root/linkfile.txt" or die;
make_files($root, [ "new\nline.txt", 'a/b.txt', 'dir/inside.txt', 'ok.txt', 'p/plain.txt' ]);
symlink "$base/elsewhere", "$root/p/evil" or die;
symlink "$base/target.txt", "$root/p/evillink.txt" or die;

$node->safe_psql('postgres', qq{
	CREATE TABLE uploads (id serial PRIMARY KEY, file_key text);
	INSERT INTO uploads (file_key) VALUES
	  ('../outside.txt'), ('$base/absolute.txt'), ('link/secret.txt'), ('linkfile.txt'),
	  (E'new\\nline.txt'), ('a/./b.txt'), ('a//b.txt'), ('a/../a/b.txt'), ('dir'), ('ok.txt');
	CREATE EXTENSION reset_system;
	SELECT reset_register_table('uploads', 'delete', 'upload', '{file_key}');
	SELECT reset_register_prefix('p/');
	SELECT reset_configure_storage('file', jsonb_build_object('root', '$root'));
});

# a NUL cannot even reach a key: PostgreSQL text cannot hold one
my ($ret, $out, $err) = $node->psql('postgres', q{INSERT INTO uploads (file_key) VALUES (E'x\\000y')});
like($err, qr/invalid byte sequence|null character not permitted/, 'a key with a NUL is rejected by PostgreSQL itself');

$node->safe_psql('postgres', "SELECT reset_execute('RESET-EVERYTHING')");
ok(wait_purge_done($node, 'postgres'), 'the purge finishes');

my %reasons = split /\|\|/, join '||', split /\n/, $node->safe_psql('postgres', q{
	SELECT replace(key, E'\n', '\n') || '||' || state || ': ' || COALESCE(last_error, outcome)
	FROM reset_system.purge_queue WHERE kind = 'object' ORDER BY key});
my %expect = (
	'../outside.txt' => qr/^failed: refused: the key contains a "\.\." segment$/,
	"$base/absolute.txt" => qr/^failed: refused: the key is an absolute path$/,
	'link/secret.txt' => qr/^failed: directory "link" on the way is a symbolic link; symbolic links are never followed$/,
	'linkfile.txt' => qr/^failed: refused: the object is a symbolic link/,
	'new\nline.txt' => qr/^failed: refused: the key contains a control character/,
	'a/./b.txt' => qr/^failed: refused: the key contains a "\." segment$/,
	'a//b.txt' => qr/^failed: refused: the key contains an empty segment/,
	'a/../a/b.txt' => qr/^failed: refused: the key contains a "\.\." segment$/,
	'dir' => qr/^failed: refused: the key names a directory, not a file$/,
	'ok.txt' => qr/^done: deleted$/,
	'p/plain.txt' => qr/^done: deleted$/,
	'p/evillink.txt' => qr/^failed: refused: the object is a symbolic link/,
	'p/evil' => qr/^failed: refused: the object is a symbolic link/);
for my $key (sort keys %expect)
{
	like($reasons{$key} // 'not queued', $expect{$key}, "key '$key'");
}
is(scalar(keys %reasons), scalar(keys %expect), 'nothing else was queued: the prefix listing did not enter the linked directory p/evil');

for my $file (sort keys %sentinels)
{
	is(slurp_file($file), $sentinels{$file}, "untouched outside the root: $file");
}
ok(-l "$root/link" && -l "$root/linkfile.txt" && -l "$root/p/evillink.txt" && -l "$root/p/evil",
	'the symbolic links themselves are left alone');
ok(-e "$root/new\nline.txt" && -e "$root/a/b.txt" && -d "$root/dir",
	'files behind refused keys are left alone');
ok(!-e "$root/ok.txt" && !-e "$root/p/plain.txt", 'ordinary keys are purged');

$node->stop;
done_testing();

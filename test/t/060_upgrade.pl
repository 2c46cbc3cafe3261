# Upgrades: every upgrade script, and the whole chain from the first
# release to default_version, ends with exactly the objects of a fresh
# install (compared by catalog query: CatalogCompare.pm), and the new
# library serves a database still at the first release until it is
# updated.
#
# The scripts are found, not listed: reset_system--A--B.sql in the source
# tree.  For each one, a database at A is updated to B and compared with a
# fresh B.  Then a database created at the oldest version with an install
# script, with the sample application registered, a reset executed and
# purged with a backup, a second reset whose purge reset_system.purge_delay
# holds, and a refused attempt, is updated along the whole chain, one
# version at a time (compared at each version that has an install script):
# every row of the extension's tables survives, the held purge runs when
# due, the backup restores, and a new reset and its purge work.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use ResetSystemTest;
use CatalogCompare;

# ---- the scripts --------------------------------------------------------------------------

my ($default) = slurp_file('reset_system.control') =~ /^\s*default_version\s*=\s*'([^']+)'/m;
my (%install, @upgrades);
for my $file (glob 'reset_system--*.sql')
{
	if ($file =~ /^reset_system--([^-]+(?:-[^-]+)*?)--(.+)\.sql$/) { push @upgrades, [ $1, $2 ] }
	elsif ($file =~ /^reset_system--(.+)\.sql$/) { $install{$1} = 1 }
}
sub vcmp { my @a = split /\./, $_[0]; my @b = split /\./, $_[1]; return ($a[0] <=> $b[0]) || (($a[1] // 0) <=> ($b[1] // 0)) }
my @versions = sort { vcmp($a, $b) } keys %install;
my $first = $versions[0];
ok($install{$default}, "default_version $default has a full install script");
cmp_ok(scalar @upgrades, '>=', 1, 'there are upgrade scripts: ' . join(', ', map { "$_->[0]--$_->[1]" } @upgrades));
note("install scripts: @versions; default_version: $default");

my $node = new_node('upgrade', preload => 1, conf => q{
reset_system.purge_naptime = 1s
reset_system.purge_retry_base = 100ms
reset_system.purge_retry_max = 300ms
});
$node->start;

# a database with the extension installed at VERSION (and nothing else)
my $dbs = 0;
sub fresh_db
{
	my ($version) = @_;
	my $db = 'v' . ++$dbs;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, "CREATE EXTENSION reset_system VERSION '$version'");
	return $db;
}

# compare DB with a fresh install of VERSION; print the outcome
my %fresh;
sub compare_with_fresh
{
	my ($db, $version, $what) = @_;
	$fresh{$version} //= catalog_lines($node, fresh_db($version));
	my $upgraded = catalog_lines($node, $db);
	my $diff = compare_catalogs($fresh{$version}, $upgraded, "fresh install of $version", $what);
	ok($diff eq '', "$what: the same objects as a fresh install of $version") or diag $diff;
	diag("$what vs fresh $version: " . catalog_summary($upgraded) . ($diff eq '' ? ': identical' : ': DIFFERENT'));
	return $diff eq '';
}

# ---- every upgrade script on its own ----------------------------------------------------------

my @path = split /--/, $node->safe_psql('postgres',
	"SELECT path FROM pg_extension_update_paths('reset_system') WHERE source = '$first' AND target = '$default'");
is($path[0] // '', $first, "there is an update path from $first to $default: " . join(' -> ', @path));
is($path[-1] // '', $default, 'it ends at default_version');

for my $u (@upgrades)
{
	my ($from, $to) = @$u;
	my $db = fresh_db($from);
	$node->safe_psql($db, "ALTER EXTENSION reset_system UPDATE TO '$to'");
	is($node->safe_psql($db, q{SELECT extversion FROM pg_extension WHERE extname = 'reset_system'}), $to,
		"reset_system--$from--$to.sql updates $from to $to");
	compare_with_fresh($db, $to, "$from updated to $to") if $install{$to};
}

# ---- the library serves the first release ------------------------------------------------------

my $db = 'app';
my $root = $node->basedir . '/media';
setup_app($node, $db, $root, 1, version => $first);
my $q = sub { $node->safe_psql($db, $_[0]) };
is($q->(q{SELECT extversion FROM pg_extension WHERE extname = 'reset_system'}), $first,
	"the application database is at $first");
$fresh{$first} //= catalog_lines($node, fresh_db($first));

my $deleted = app_keys($node, $db, 'deleted');
my $plan = $q->('SELECT reset_plan()');
like($plan, qr/Will DELETE [\d,]+ row\(s\) in 7 table\(s\)/, "at $first: the plan works");
my ($token) = $plan =~ /Plan token:\s+(\w+)/;
my $out = $q->(qq{SELECT reset_execute('RESET-EVERYTHING', '$token', backup => true)});
like($out, qr/Backed up [\d,]+ row\(s\) of \d+ table\(s\) into schema reset_backup_1/, "at $first: a reset with a backup runs");
like($q->(q{SELECT reset_purge_wait('2 minutes')}), qr/^Purged \d+ storage object\(s\)\.$/, "at $first: its purge finishes");
is(files_present($root, $deleted), 0, 'and the files of the deleted rows are gone');

# a second reset, its purge held by the delay
$q->('SELECT app.generate_demo_data(1)');
my $held = app_keys($node, $db, 'deleted');
make_files($root, $held);
$out = $q->(q{SET reset_system.purge_delay = '1h'; SELECT reset_execute('RESET-EVERYTHING')});
like($out, qr/The storage purge starts 1 hour after commit/, "at $first: a reset with a held purge");
ok($node->poll_query_until($db, q{SELECT count(*) > 0 AND bool_and(hold_for IS NULL AND next_attempt_at > now() + interval '50 minutes')
	FROM reset_system.purge_queue WHERE reset_id = 2 AND state = 'pending'}), 'the worker schedules it an hour later');

# a refused attempt, an unlock and a lock, a registered prefix: in the history
my ($state) = psql_error($node, $db, q{SELECT reset_execute('RESET-NOTHING')});
is($state, 'RS001', "at $first: a wrong phrase is refused");
label_db($node, $db, 'production');
$q->(q{SELECT reset_unlock('5 minutes')});
$q->(q{SELECT reset_lock()});
label_db($node, $db, 'test');
$q->(q{SELECT reset_register_prefix('tmp/')});
ok($node->poll_query_until($db, q{SELECT count(*) = 3 FROM reset_history() WHERE outcome IN ('refused', 'unlocked', 'locked')}),
	'and recorded') or diag $q->('SELECT outcome FROM reset_history()');
my $history = $q->(q{SELECT count(*) FROM reset_history()});

# every row of the extension's tables, and of the backup
my $tables_sql = q{SELECT c.oid::regclass FROM pg_depend d JOIN pg_class c ON c.oid = d.objid
	WHERE d.classid = 'pg_class'::regclass AND d.deptype = 'e' AND c.relkind IN ('r', 'p')
	  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'reset_system')
	UNION ALL SELECT c.oid::regclass FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE n.nspname LIKE 'reset_backup_%' AND c.relkind = 'r' ORDER BY 1};
sub snapshot
{
	my ($columns) = @_;
	my %rows;
	for my $table (split /\n/, $q->($tables_sql))
	{
		my @cols = split /\n/, $q->(qq{SELECT quote_ident(attname) FROM pg_attribute
			WHERE attrelid = '$table'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum});
		@cols = grep { my $c = $_; grep { $_ eq $c } @{ $columns->{$table} } } @cols if $columns && $columns->{$table};
		$rows{$table} = {
			columns => \@cols,
			rows => [ split /\n/, $q->(qq{SELECT row_to_json(r)::text FROM (SELECT @{[ join ', ', @cols ]} FROM $table) r ORDER BY 1}) ],
		};
	}
	return \%rows;
}
my $before = snapshot();
my $before_rows = 0;
$before_rows += @{ $_->{rows} } for values %$before;
cmp_ok(scalar(@{ $before->{'reset_system.history'}{rows} }), '==', 2, 'two resets in the history');
ok(@{ $before->{'reset_system.purge_queue'}{rows} } > 0 && @{ $before->{'reset_system.registered_tables'}{rows} } > 0
	&& @{ $before->{'reset_system.backups'}{rows} } == 1,
	"before the update: configuration, history, queue and a backup ($before_rows rows in " . scalar(keys %$before) . ' tables)');

# ---- the update, one version at a time ------------------------------------------------------------

for my $i (1 .. $#path)
{
	$q->("ALTER EXTENSION reset_system UPDATE TO '$path[$i]'");
	is($q->(q{SELECT extversion FROM pg_extension WHERE extname = 'reset_system'}), $path[$i],
		"the application database is updated to $path[$i]");
	compare_with_fresh($db, $path[$i], "the application database ($first updated to $path[$i])") if $install{$path[$i]};
}

# every row survived: the columns the tables had before, row for row
my $after = snapshot({ map { $_ => $before->{$_}{columns} } keys %$before });
for my $table (sort keys %$before)
{
	is_deeply($after->{$table}{columns}, $before->{$table}{columns}, "$table keeps its columns")
	  && is_deeply($after->{$table}{rows}, $before->{$table}{rows},
		"$table: " . scalar(@{ $before->{$table}{rows} }) . ' row(s) survived the update, every column equal');
}
is($q->(q{SELECT count(*) FROM reset_history()}), $history, 'reset_history() lists the same entries');

# ---- and it keeps working -------------------------------------------------------------------------

# the held purge, once due
is(files_present($root, $held), scalar @$held, 'the held purge has deleted nothing');
$q->(q{UPDATE reset_system.purge_queue SET next_attempt_at = now() WHERE reset_id = 2 AND state = 'pending'});
ok(wait_purge_done($node, $db), 'once due, the purge queued before the update runs');
is(files_present($root, $held), 0, 'and deletes the files');

# the backup taken before the update restores
my $restored = $q->(q{SELECT reset_restore(1, 'RESTORE-EVERYTHING')});
like($restored, qr/Restored \d+ row\(s\) of app\.submissions/, 'the backup taken before the update restores');
cmp_ok($q->('SELECT count(*) FROM app.submissions'), '>', 0, 'the rows are back');

# a new reset and its purge
make_files($root, app_keys($node, $db, 'deleted'));
my $now_deleted = app_keys($node, $db, 'deleted');
$plan = $q->('SELECT reset_plan()');
($token) = $plan =~ /Plan token:\s+(\w+)/;
$out = $q->(qq{SELECT reset_execute('RESET-EVERYTHING', '$token')});
like($out, qr/Recorded as reset 3 in reset_system\.history/, "at $default: a new reset runs, numbered after the old ones");
like($q->(q{SELECT reset_purge_wait('2 minutes')}), qr/^Purged \d+ storage object\(s\)\.$/, 'and its purge finishes');
is(files_present($root, $now_deleted), 0, 'the files of its deleted rows are gone');
is($q->(q{SELECT string_agg(id || ':' || purged, ',' ORDER BY id) FROM reset_system.history}),
	join(',', '1:' . @$deleted, '2:' . @$held, '3:' . @$now_deleted),
	'the history counts every purge, before and after the update');

$node->stop;
done_testing();

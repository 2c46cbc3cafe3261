# ResetSystemTest.pm: helpers shared by the integration tests (test/t).
#
# They start real PostgreSQL servers with PostgreSQL::Test::Cluster; this
# module only adds what every reset_system test repeats.
package ResetSystemTest;

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use File::Path ();
use POSIX ();

use Exporter 'import';
our @EXPORT = qw(new_node load_store psql_error setup_app app_keys make_files
  files_present wait_purge_done label_db);

# No process a test starts may outlive it, whether it passes, fails or
# dies half-way: a forked helper that keeps the test's output open keeps
# prove waiting forever, and a stray server holds its port.  When the test
# process ends, every process it started itself (a forked listener,
# helper servers, psql or reset-system sessions under IPC::Run) gets
# SIGTERM, then SIGKILL if it is still there after 5 seconds.  This END
# block runs before PostgreSQL::Test::Cluster's, which stops the nodes.
my $test_pid = $$;
END
{
	# keep the test's exit status (waitpid sets $?)
	local ($?, $!);
	end_children() if $$ == $test_pid;
}

# end_children(): the ending described above.
sub end_children
{
	my @kids = children_of($$);
	return unless @kids;
	kill 'TERM', @kids;
	my $deadline = time + 5;
	while (time < $deadline)
	{
		@kids = grep { waitpid($_, POSIX::WNOHANG()) == 0 } @kids;
		last unless @kids;
		select(undef, undef, undef, 0.1);
	}
	kill 'KILL', @kids if @kids;
	waitpid($_, 0) for @kids;
	return;
}

# children_of(PID): the processes whose parent is PID (from /proc).
sub children_of
{
	my ($parent) = @_;
	my @kids;
	opendir my $dir, '/proc' or return;
	for my $pid (grep { /^\d+$/ } readdir $dir)
	{
		open my $fh, '<', "/proc/$pid/stat" or next;
		my $stat = <$fh> // '';
		close $fh;
		# "pid (comm) state ppid ...": comm may hold spaces and parentheses
		my ($ppid) = $stat =~ /.*\)\s+\S+\s+(\d+)/s;
		push @kids, $pid if defined $ppid && $ppid == $parent;
	}
	closedir $dir;
	return @kids;
}

# new_node(NAME, %opts): an initialized (not started) node.  Options:
#   preload => 1   put reset_system in shared_preload_libraries
#   conf => '...'  extra postgresql.conf lines
#   init => {...}  passed to init() (allows_streaming and the like)
sub new_node
{
	my ($name, %opts) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(%{ $opts{init} || {} });
	my $conf = "max_worker_processes = 16\n";
	$conf .= "shared_preload_libraries = 'reset_system'\n" if $opts{preload};
	$conf .= $opts{conf} if $opts{conf};
	$node->append_conf('postgresql.conf', $conf);
	return $node;
}

# label_db(NODE, DB, ENV): label a database (resets are refused in an
# unlabelled one); new sessions see the label.
sub label_db
{
	my ($node, $db, $env) = @_;
	$node->safe_psql('postgres',
		qq{ALTER DATABASE "$db" SET reset_system.environment = '} . ($env // 'test') . q{'});
	return;
}

# load_store(NODE, DB): the extension, the pg_regress shop fixture, and
# storage in a directory of the node's own (returned).
sub load_store
{
	my ($node, $db) = @_;
	my $root = $node->basedir . "/media_$db";
	mkdir $root;
	label_db($node, $db);
	$node->safe_psql($db, 'CREATE EXTENSION IF NOT EXISTS reset_system');
	$node->safe_psql($db, slurp_file('test/fixtures/store.sql'));
	$node->safe_psql($db,
		"SELECT reset_configure_storage('file', jsonb_build_object('root', '$root'))");
	return $root;
}

# psql_error(NODE, DB, SQL): run SQL expecting an error; returns
# (sqlstate, full stderr).
sub psql_error
{
	my ($node, $db, $sql) = @_;
	my ($ret, $out, $err) = $node->psql($db, $sql,
		extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	my ($state) = $err =~ /ERROR:\s+([0-9A-Z]{5}):/;
	return ($state // '', $err);
}

# setup_app(NODE, DB, ROOT, SCALE [, version => V]): the sample validation
# application with generated data, a file in ROOT for every key it
# references, the extension (at version V if given) registered the way the
# demo does it, and storage configured.
sub setup_app
{
	my ($node, $db, $root, $scale, %opts) = @_;
	my $version = $opts{version} ? " VERSION '$opts{version}'" : '';
	$scale //= 1;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	label_db($node, $db);
	$node->safe_psql($db, slurp_file('test/fixtures/validation_app.sql'));
	$node->safe_psql($db, "SELECT app.generate_demo_data($scale)");
	$node->safe_psql($db, "CREATE EXTENSION reset_system$version");
	$node->safe_psql($db, q{
		SELECT count(*) FROM reset_register_schema('app', ARRAY['schema_migrations', 'organizations', 'users']);
		SELECT reset_register_table('app.submissions', 'delete', 'submission', '{file_key}');
		SELECT reset_register_table('app.validation_runs', 'delete', 'validation run', '{report_key}');
		SELECT reset_register_table('app.validators', 'delete', 'validator', '{rules_key}');
		SELECT reset_register_table('app.users', 'preserve', 'user', '{avatar_key}');
		SELECT reset_register_rebuild('baseline validator', 'SELECT app.seed_validators()');
	});
	mkdir $root;
	$node->safe_psql($db,
		"SELECT reset_configure_storage('file', jsonb_build_object('root', '$root'))");
	make_files($root, app_keys($node, $db, 'all'));
	return;
}

# app_keys(NODE, DB, WHICH): keys referenced by the sample application:
# 'deleted' (rows a reset deletes), 'preserved' (user avatars), 'rebuilt'
# (the resource files of the baseline validators), or 'all'.
sub app_keys
{
	my ($node, $db, $which) = @_;
	my %sql = (
		deleted => q{SELECT file_key FROM app.submissions
			UNION SELECT report_key FROM app.validation_runs
			UNION SELECT rules_key FROM app.validators WHERE NOT is_system},
		preserved => q{SELECT avatar_key FROM app.users},
		rebuilt => q{SELECT rules_key FROM app.validators WHERE is_system});
	my $query = $which eq 'all' ? join(' UNION ', values %sql) : $sql{$which};
	return [ grep { length } split /
/, $node->safe_psql($db, "$query ORDER BY 1") ];
}

# make_files(ROOT, KEYS): a small file for every key.
sub make_files
{
	my ($root, $keys) = @_;
	for my $key (@$keys)
	{
		my $path = "$root/$key";
		(my $dir = $path) =~ s{/[^/]*$}{};
		File::Path::make_path($dir);
		open my $fh, '>', $path or die "cannot create $path: $!";
		print $fh "content of $key\n";
		close $fh;
	}
	return;
}

# files_present(ROOT, KEYS): how many of the keys exist as files.
sub files_present
{
	my ($root, $keys) = @_;
	return scalar grep { -e "$root/$_" } @$keys;
}

# wait_purge_done(NODE, DB): poll (without kicking the worker) until no
# queue row is pending.
sub wait_purge_done
{
	my ($node, $db) = @_;
	return $node->poll_query_until($db,
		q{SELECT NOT EXISTS (SELECT FROM reset_system.purge_queue WHERE state = 'pending')});
}

1;

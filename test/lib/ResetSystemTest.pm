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

use Exporter 'import';
our @EXPORT = qw(new_node load_store psql_error);

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

# load_store(NODE, DB): the extension and the pg_regress shop fixture.
sub load_store
{
	my ($node, $db) = @_;
	$node->safe_psql($db, 'CREATE EXTENSION IF NOT EXISTS reset_system');
	$node->safe_psql($db, slurp_file('test/fixtures/store.sql'));
	return;
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

1;

# Configuration and history survive pg_dump / pg_restore: the restored
# database plans and resets the same way.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use ResetSystemTest;

my $node = new_node('main');
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE src');
load_store($node, 'src');
$node->safe_psql('src', q{
	SELECT reset_register_table('store.products', 'delete', 'product', '{image_key}');
	SELECT reset_execute('RESET-EVERYTHING');
	SELECT store.refill();
});

my $config_sql = 'SELECT string_agg(concat_ws(\'|\', kind, name, action, label, detail, position), E\'\n\' ORDER BY kind, name) FROM reset_config() WHERE kind <> \'storage\'';
my $config = $node->safe_psql('src', $config_sql);

my $dump = $node->basedir . '/src.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('src'), '-f', $dump ], 'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE dst');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('dst'), $dump ], 'pg_restore');

is($node->safe_psql('dst', $config_sql), $config, 'the registrations are restored');
is($node->safe_psql('dst', 'SELECT count(*) FROM reset_system.history'), '1',
	'the history is restored');
my $plan = $node->safe_psql('dst', 'SELECT reset_plan()');
like($plan, qr/Will DELETE 147 row\(s\) in 4 table\(s\)/, 'the restored database plans');
like($plan, qr/Blockers \(2\).*\n  - the storage configuration was made on another server or in another database/,
	'but its storage configuration, made for the source database, must be confirmed first');
like($plan, qr/\n  - database "dst" has no environment label/,
	'and the copy is not labelled (a dump does not carry ALTER DATABASE settings)');
my $root = $node->basedir . '/media_dst';
mkdir $root;
$node->safe_psql('dst', "SELECT reset_configure_storage('file', jsonb_build_object('root', '$root'))");
label_db($node, 'dst');
like($node->safe_psql('dst', 'SELECT reset_plan()'), qr/Blockers: none/,
	'once confirmed, the plan has no blocker');
my $json = $node->safe_psql('dst', q{SELECT reset_plan_json() ->> 'database'});
is($json, 'dst', 'the plan names the restored database');

my $src_token = $node->safe_psql('src', q{SELECT reset_plan_json() ->> 'token'});
my ($state) = psql_error($node, 'dst',
	"SELECT reset_execute('RESET-EVERYTHING', '$src_token')");
is($state, 'RS002', "the source database's plan token is refused in the copy");

like($node->safe_psql('dst', "SELECT reset_execute('RESET-EVERYTHING')"),
	qr/Deleted 40 order row\(s\)\.\n.*Reset done; it takes effect when this transaction commits\.$/s,
	'the restored database resets');
is($node->safe_psql('dst', 'SELECT count(*) FROM reset_system.history'), '2',
	'and records it after the restored history');

done_testing();

# A reset and the configuration functions refuse clearly on a hot
# standby, and the plan says why.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use ResetSystemTest;

my $primary = new_node('primary', init => { allows_streaming => 1 });
$primary->start;
load_store($primary, 'postgres');

$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby, 'replay');

my $counts = 'SELECT string_agg(tbl || \'=\' || n, \' \' ORDER BY tbl) FROM store.counts';
my $before = $standby->safe_psql('postgres', $counts);
is($before, 'accounts=3 coupons=2 order_items=100 orders=40 products=5',
	'the standby has the data');

my ($state, $err) = psql_error($standby, 'postgres',
	"SELECT reset_execute('RESET-EVERYTHING')");
is($state, '25006', 'reset_execute on a standby fails with read_only_sql_transaction');
like($err, qr/cannot reset a database on a hot standby/, 'the message says why');
like($err, qr/HINT:.*Connect to the primary server/, 'the hint says where to go');

my $plan = $standby->safe_psql('postgres', 'SELECT reset_plan()');
like($plan, qr/Will DELETE 147 row\(s\) in 4 table\(s\)/, 'the plan still counts on a standby');
like($plan, qr/Blockers \(1\).*\n  - this server is a hot standby/,
	'the plan lists the standby as a blocker');

is($standby->safe_psql('postgres', $counts), $before, 'nothing changed on the standby');
is($primary->safe_psql('postgres', $counts), $before, 'nothing changed on the primary');

# configuration functions refuse up front, naming themselves
for my $call ("SELECT reset_register_prefix('uploads/')",
	"SELECT reset_register_rebuild('x', 'SELECT 1')",
	"SELECT reset_configure_storage('none')")
{
	my ($func) = $call =~ /SELECT (\w+)/;
	($state, $err) = psql_error($standby, 'postgres', $call);
	is($state, '25006', "$func on a standby fails with read_only_sql_transaction");
	like($err, qr/\Q$func\E\(\) cannot change the reset configuration on a hot standby/,
		"$func names itself and says why");
	like($err, qr/HINT:.*on the primary server/, "$func says where to go");
}

# a wrong phrase is still checked first
($state) = psql_error($standby, 'postgres', "SELECT reset_execute('nope')");
is($state, 'RS001', 'the phrase is checked before anything else');

done_testing();

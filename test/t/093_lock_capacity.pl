# The plan warns when the locks a reset takes (one per table, partition,
# index, TOAST table and sequence it empties, all held until commit) would
# exceed what the server's shared lock table is sure to hold, and names the
# setting to raise; with the setting raised, the warning is gone.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use ResetSystemTest;

# 10 x (max_connections 20 + no prepared transactions) = 200 locks; 150
# tables with a primary key each need 300
my $node = new_node('locks', conf => "max_locks_per_transaction = 10\nmax_connections = 20\n");
$node->start;
label_db($node, 'postgres');
$node->safe_psql('postgres', 'CREATE EXTENSION reset_system');
for my $from (map { $_ * 25 + 1 } 0 .. 5)
{
	$node->safe_psql('postgres', qq{
		DO \$\$
		BEGIN
			FOR i IN $from..$from + 24 LOOP
				EXECUTE format('CREATE TABLE t%s (id int PRIMARY KEY)', i);
				PERFORM reset_register_table(format('t%s', i)::regclass, 'delete');
			END LOOP;
		END \$\$;
	});
}

my $warning = q{SELECT w FROM pg_catalog.jsonb_array_elements_text(reset_plan_json() -> 'warnings') w
	WHERE w LIKE '%max_locks_per_transaction%'};
my $w = $node->safe_psql('postgres', $warning);
like($w, qr/the reset locks about 300 relations/, 'the plan counts the tables and their indexes');
like($w, qr/with max_locks_per_transaction = 10 the server's shared lock table holds about 200 locks/,
	'it names the current setting and what it allows');
like($w, qr/ALTER SYSTEM SET max_locks_per_transaction = 64;/, 'and the fix');
like($node->safe_psql('postgres', 'SELECT string_agg(l, E\'\n\') FROM reset_plan() l'),
	qr/max_locks_per_transaction = 64/, 'the text plan shows it too');

# the suggested fix, then a restart
$node->safe_psql('postgres', 'ALTER SYSTEM SET max_locks_per_transaction = 64');
$node->restart;
is($node->safe_psql('postgres', $warning), '', 'with the setting raised the warning is gone');
is($node->safe_psql('postgres', q{SELECT jsonb_array_length(reset_plan_json() -> 'blockers')}), '0',
	'and nothing blocks the reset');
$node->safe_psql('postgres', "SELECT reset_execute('RESET-EVERYTHING')");
is($node->safe_psql('postgres', 'SELECT count(*) FROM reset_system.history'), '1', 'which then runs');

$node->stop;
done_testing();

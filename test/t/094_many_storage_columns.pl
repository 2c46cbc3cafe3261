# More storage columns than one statement reads (RS_KEY_CHUNK, 100): the
# plan's count of keys, the queue the reset fills and the keys it spares,
# and the purge worker's check for keys still referenced all work chunk by
# chunk, and give what one statement over every table gives: a key in
# several tables (in different chunks) is queued and counted once, a key a
# preserved row holds is never queued, and a key a row of any table holds
# again when the worker runs is kept.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use ResetSystemTest;

my $n = 250;	# three chunks
my $node = new_node('many', conf => "max_locks_per_transaction = 128\n");
$node->start;
label_db($node, 'postgres');
my $root = $node->basedir . '/media';
mkdir $root;

# t_i: a key shared by every fiftieth table ("s/<i % 50>") and one of its
# own ("u/<i>"); p (preserved) holds u/1, u/200 and s/7
$node->safe_psql('postgres', qq{
	CREATE EXTENSION reset_system;
	SELECT reset_configure_storage('file', jsonb_build_object('root', '$root'));
	CREATE TABLE p (id int PRIMARY KEY, file_key text);
	INSERT INTO p VALUES (1, 'u/1.bin'), (2, 'u/200.bin'), (3, 's/7.bin');
	SELECT reset_register_table('p', 'preserve', 'kept file', '{file_key}');
});
for my $from (map { $_ * 50 + 1 } 0 .. $n / 50 - 1)
{
	$node->safe_psql('postgres', qq{
		DO \$\$
		BEGIN
			FOR i IN $from..$from + 49 LOOP
				EXECUTE format('CREATE TABLE t%s (id int PRIMARY KEY, file_key text)', i);
				EXECUTE format('INSERT INTO t%s VALUES (1, %L), (2, %L)', i,
							   format('s/%s.bin', i % 50), format('u/%s.bin', i));
				PERFORM reset_register_table(format('t%s', i)::regclass, 'delete', 'file', '{file_key}');
			END LOOP;
		END \$\$;
	});
}
my @keys = ((map { "s/$_.bin" } 0 .. 49), (map { "u/$_.bin" } 1 .. $n));
make_files($root, \@keys);

# 300 distinct keys, 3 of them held by the preserved row
like($node->safe_psql('postgres', q{SELECT string_agg(l, E'\n') FROM reset_plan() l}),
	qr/up to 297 object\(s\)/, 'the plan counts each key once, across chunks, less the preserved ones');

# the worker waits while the reset commits and rows come back
$node->safe_psql('postgres', "LOAD 'reset_system'; ALTER SYSTEM SET reset_system.purge_paused = on");
$node->reload;
$node->safe_psql('postgres', "SELECT reset_execute('RESET-EVERYTHING')");
is($node->safe_psql('postgres', q{SELECT count(*), count(DISTINCT key) FROM reset_system.purge_queue WHERE kind = 'object'}),
	'297|297', 'the reset queued each key once');
is($node->safe_psql('postgres', q{SELECT count(*) FROM reset_system.purge_queue
	WHERE key IN ('u/1.bin', 'u/200.bin', 's/7.bin')}), '0', 'and none a preserved row holds');

# every table holds its own key again: the worker must find each of them,
# whichever chunk its table is in
$node->safe_psql('postgres', qq{
	DO \$\$
	BEGIN
		FOR i IN 1..$n LOOP
			EXECUTE format('INSERT INTO t%s VALUES (1, %L)', i, format('u/%s.bin', i));
		END LOOP;
	END \$\$;
});
$node->safe_psql('postgres', "LOAD 'reset_system'; ALTER SYSTEM SET reset_system.purge_paused = off");
$node->reload;
$node->safe_psql('postgres', 'SELECT reset_purge_kick()');
ok(wait_purge_done($node, 'postgres'), 'the purge finished');
is($node->safe_psql('postgres', q{SELECT outcome, count(*) FROM reset_system.purge_queue
	WHERE kind = 'object' GROUP BY outcome ORDER BY 1}),
	"deleted|49\nkept: referenced again|248", 'referenced keys are kept, the others purged');
is(files_present($root, [ map { "u/$_.bin" } 1 .. $n ]), $n, 'every file a row references is still there');
is(files_present($root, [ grep { $_ ne 's/7.bin' } map { "s/$_.bin" } 0 .. 49 ]), 0,
	'every other file is gone');

$node->stop;
done_testing();

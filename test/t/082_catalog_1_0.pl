# The library serves a database whose extension is still at 1.0 (library
# upgraded, ALTER EXTENSION ... UPDATE not run yet): plans and resets work
# as in 1.0, the kept-row features that need 1.1's tables refuse with the
# statement that updates it, and after the update they work.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use ResetSystemTest;

my $node = new_node('catalog10');
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE old');
label_db($node, 'old');
$node->safe_psql('old', q{CREATE EXTENSION reset_system VERSION '1.0'});
my $root = $node->basedir . '/media_old';
mkdir $root;
$node->safe_psql('old', slurp_file('test/fixtures/store.sql'));
$node->safe_psql('old', "SELECT reset_configure_storage('file', jsonb_build_object('root', '$root'))");
my $q = sub { $node->safe_psql('old', $_[0]) };

# a kept table with a declared ON DELETE SET NULL pointer into a deleted one
$q->(q{
	ALTER TABLE store.accounts ADD COLUMN last_order bigint REFERENCES store.orders ON DELETE SET NULL;
	UPDATE store.accounts SET last_order = 1;
});

my $plan = $q->('SELECT reset_plan()');
like($plan, qr/Will DELETE 147 row\(s\) in 4 table\(s\)/, 'at 1.0: the plan works');
like($plan, qr/Will SET NULL store\.accounts\.last_order in 3 preserved row\(s\) \(ON DELETE SET NULL\)/,
	'and shows the declared action it applies to kept rows');
like($plan, qr/Blockers: none/, 'nothing blocks it');
my ($token) = $plan =~ /Plan token:\s+(\w+)/;
my $out = $q->("BEGIN; SELECT reset_execute('RESET-EVERYTHING', '$token'); SELECT count(*) FROM store.accounts WHERE last_order IS NOT NULL; ROLLBACK;");
like($out, qr/Set NULL store\.accounts\.last_order in 3 preserved row\(s\)/, 'at 1.0: the reset applies it');
like($out, qr/Reset done; it takes effect when this transaction commits\.\n0$/, 'and no kept row points at a deleted one');

# the 1.1 registrations, declared by hand against the new library
$q->(q{
	CREATE FUNCTION public.rs_nullify(regclass, text[]) RETURNS void LANGUAGE C AS '$libdir/reset_system', 'reset_register_nullify';
	CREATE FUNCTION public.rs_generic(regclass, text, text, jsonb, text) RETURNS void LANGUAGE C AS '$libdir/reset_system', 'reset_register_generic';
	CREATE FUNCTION public.rs_rebuild(text, text, boolean, text) RETURNS void LANGUAGE C AS '$libdir/reset_system', 'reset_register_rebuild';
});
for my $call ("SELECT rs_nullify('store.accounts', ARRAY['last_order'])",
	"SELECT rs_generic('store.accounts', 'name', 'id', NULL, 'rails')",
	"SELECT rs_rebuild('early', 'SELECT 1', false, 'before')")
{
	my ($state, $err) = psql_error($node, 'old', $call);
	is($state, '55000', "at 1.0: $call is refused");
	like($err, qr/HINT:  ALTER EXTENSION reset_system UPDATE;/, 'with the statement that updates the extension');
}
is($q->(q{SELECT count(*) FROM reset_config() WHERE kind = 'rebuild'}), '1', 'nothing was registered');
$q->('DROP FUNCTION rs_nullify(regclass, text[]), rs_generic(regclass, text, text, jsonb, text), rs_rebuild(text, text, boolean, text)');

# after the update: the same plan, and the new registrations
$q->('ALTER EXTENSION reset_system UPDATE');
is($q->(q{SELECT extversion FROM pg_extension WHERE extname = 'reset_system'}), '1.1', 'updated to 1.1');
$q->(q{ALTER TABLE store.accounts ADD COLUMN first_order bigint REFERENCES store.orders; UPDATE store.accounts SET first_order = 2});
like($q->('SELECT reset_plan()'), qr/Fix: Set those pointers to NULL in the kept rows: SELECT reset_register_nullify\('store\.accounts', ARRAY\['first_order'\]\);/,
	'at 1.1: a NO ACTION pointer blocks, and the fix names the registration');
$q->(q{SELECT reset_register_nullify('store.accounts', ARRAY['first_order'])});
$plan = $q->('SELECT reset_plan()');
like($plan, qr/Will SET NULL store\.accounts\.first_order in 3 preserved row\(s\) \(registered with reset_register_nullify\)/,
	'once registered, the plan sets it to NULL');
like($plan, qr/Blockers: none/, 'and nothing blocks it');

done_testing();

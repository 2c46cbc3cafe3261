# Every blocker's fix works: for each kind of blocker a plan can show, the
# condition is made in a fresh database, the plan must show the blocker
# with at least one fix (SQL that its hint quotes word for word), and each
# fix, run as it is (alternatives one at a time, each in a database of
# its own), must make that blocker go away in the next plan.
#
# The one blocker without a statement is the hot standby's: its fix is to
# run the reset on the primary (001_hot_standby.pl).
use strict;
use warnings;

use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use ResetSystemTest;

my $node = new_node('fixes');
$node->start;
$node->safe_psql('postgres', 'CREATE ROLE rs_op');

my $dbs = 0;

# a fresh database with the shop fixture registered and storage configured
sub fresh
{
	my $db = 'f' . ++$dbs;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	load_store($node, $db);
	return $db;
}

# blockers(DB, PRELUDE): the plan's blockers (hashes of message, hint,
# fixes), planned in a session that first runs PRELUDE
sub blockers
{
	my ($db, $prelude) = @_;
	my $json = $node->safe_psql($db, ($prelude // '') . "\nSELECT reset_plan_json()->'blocker_details'");
	return decode_json($json);
}

# has_blocker(LIST, MESSAGE)
sub has_blocker
{
	my ($list, $message) = @_;
	return scalar grep { $_->{message} eq $message } @$list;
}

# wait until new sessions see reset_system.allow_reset as VALUE
sub wait_allow_reset
{
	my ($db, $value) = @_;
	# a session that has not loaded the library knows the setting only
	# while it is set (else it is on, its default)
	$node->poll_query_until($db, "SELECT coalesce(current_setting('reset_system.allow_reset', true), 'on') = '$value'")
	  or die "reset_system.allow_reset did not become $value";
}

# after_fix(DB, PRELUDE, FIX): the blockers once FIX has run: a session
# setting in the planning session itself (SET LOCAL inside its
# transaction), anything else committed first, the plan in a new session
sub after_fix
{
	my ($db, $prelude, $fix) = @_;
	$prelude //= '';
	if ($fix =~ /^SET LOCAL /)
	{
		my $json = $node->safe_psql($db, "$prelude\nBEGIN;\n$fix\nSELECT reset_plan_json()->'blocker_details';\nROLLBACK;");
		return decode_json($json);
	}
	if ($fix =~ /^SET /)
	{
		return blockers($db, "$prelude\n$fix");
	}
	$node->safe_psql($db, $fix);
	wait_allow_reset($db, 'on') if $fix =~ /ALTER SYSTEM/;
	return blockers($db, $prelude);
}

# make(DB, SETUP): run SETUP's SQL (it may do its work itself, and return
# undef)
sub make
{
	my ($db, $setup) = @_;
	return unless $setup;
	my $sql = $setup->($db);
	$node->safe_psql($db, $sql) if defined $sql;
	return;
}

# scenario(NAME, SETUP, MATCH, PRELUDE, CLEANUP): make the condition, find the
# blocker, run each of its fixes in a database of its own
my %seen;
sub scenario
{
	my ($name, $setup, $match, $prelude, $cleanup) = @_;
	my $db = fresh();
	make($db, $setup);
	my @hits = grep { $_->{message} =~ $match } @{ blockers($db, $prelude) };
	ok(@hits >= 1, "$name: the plan shows the blocker") or return;
	my $b = $hits[0];
	$seen{$name} = scalar @{ $b->{fixes} };
	ok(@{ $b->{fixes} } >= 1, "$name: it has a fix (" . scalar(@{ $b->{fixes} }) . ')') or diag explain $b;
	for my $i (0 .. $#{ $b->{fixes} })
	{
		my $fix = $b->{fixes}[$i];
		ok(index($b->{hint}, $fix) >= 0, "$name: the Fix text quotes it: $fix");
		my $fdb = $i == 0 ? $db : fresh();
		if ($i > 0)
		{
			make($fdb, $setup);
			ok(has_blocker(blockers($fdb, $prelude), $b->{message}), "$name: blocked again in $fdb");
		}
		my $after = after_fix($fdb, $prelude, $fix);
		ok(!has_blocker($after, $b->{message}), "$name: once run, the blocker is gone")
		  or diag explain $after;
		$cleanup->($fdb) if $cleanup;
	}
	return;
}

# ---- the plan's own blockers ------------------------------------------------------------------

scenario('renamed table', sub { 'ALTER TABLE store.coupons RENAME TO vouchers' }, qr/is now named/);
scenario('read-only transaction', undef, qr/the current transaction is read-only/,
	'SET default_transaction_read_only = on;');
scenario('nothing registered', sub { 'DELETE FROM reset_system.registered_tables; DELETE FROM reset_system.rebuild_steps' },
	qr/nothing is registered for deletion/);

# ---- storage ----------------------------------------------------------------------------------

scenario('no storage backend', sub { q{SELECT reset_configure_storage('none')} },
	qr/no storage backend is configured/);
scenario('unknown storage backend', sub { q{UPDATE reset_system.storage SET backend = 'ftp'} },
	qr/is not known to this version/);
scenario('storage configured elsewhere', sub { q{UPDATE reset_system.storage SET database_oid = 1} },
	qr/another server or in another database/);
scenario('storage column dropped', sub { 'ALTER TABLE store.products DROP COLUMN image_key' },
	qr/storage column "image_key" of table "store.products" no longer exists/);
scenario('storage column retyped', sub { 'ALTER TABLE store.products ALTER COLUMN image_key TYPE int USING length(image_key)' },
	qr/is of type integer now, not text/);

# ---- guards -----------------------------------------------------------------------------------

scenario('kill switch', sub {
		$node->safe_psql($_[0], "LOAD 'reset_system'; ALTER SYSTEM SET reset_system.allow_reset = off");
		$node->safe_psql($_[0], 'SELECT pg_reload_conf()');
		wait_allow_reset($_[0], 'off');
		return undef;
	}, qr/resets are disabled on this server/, undef,
	sub { $node->safe_psql($_[0], "LOAD 'reset_system'; ALTER SYSTEM SET reset_system.allow_reset = on; SELECT pg_reload_conf()"); wait_allow_reset($_[0], 'on') });
scenario('unlabelled database', sub { "ALTER DATABASE $_[0] RESET reset_system.environment" },
	qr/has no environment label/);
scenario('protected environment', sub { label_db($node, $_[0], 'production'); undef },
	qr/is protected and locked/);
scenario('size guard', undef, qr/more than reset_system.max_rows/, 'SET reset_system.max_rows = 10;');

# ---- trees of partitions and children -------------------------------------------------------------

scenario('preserved inside deleted', sub { q{
		CREATE TABLE store.orders_kept () INHERITS (store.orders);
		SELECT reset_register_table('store.orders_kept', 'preserve', 'kept order')} },
	qr/registered for preservation but is inside/);
scenario('deleted inside preserved', sub { q{
		CREATE TABLE store.accounts_old () INHERITS (store.accounts);
		SELECT reset_register_table('store.accounts_old', 'delete', 'old account')} },
	qr/registered for deletion but is inside/);
scenario('child of an emptied and a kept table', sub { q{
		CREATE TABLE store.kept_codes (code text NOT NULL);
		SELECT reset_register_table('store.kept_codes', 'preserve', 'kept code');
		CREATE TABLE store.mixed () INHERITS (store.coupons, store.kept_codes)} },
	qr/inherits from .*which a reset empties, and from/);
scenario('unregistered child in another schema', sub { q{
		CREATE SCHEMA other;
		CREATE TABLE other.orders_x () INHERITS (store.orders)} },
	qr/is not registered, and no table of schema "other" is/);

# ---- registrations ----------------------------------------------------------------------------------

scenario('rebuild step of a dropped role', sub { q{
		CREATE ROLE rs_gone;
		GRANT EXECUTE ON FUNCTION reset_register_rebuild(text, text, boolean, text) TO rs_gone;
		SET ROLE rs_gone;
		SELECT reset_register_rebuild('gone step', 'SELECT 1');
		RESET ROLE;
		DROP OWNED BY rs_gone;
		DROP ROLE rs_gone} },
	qr/runs as role "rs_gone", which does not exist any more/);
scenario('migration history registered for deletion', sub { q{
		CREATE TABLE store.schema_migrations (version text PRIMARY KEY);
		SELECT reset_register_table('store.schema_migrations', 'delete', 'migration')} },
	qr/holds the migration history/);
scenario('generic reference column dropped', sub { q{
		ALTER TABLE store.accounts ADD COLUMN owner_type text, ADD COLUMN owner_id int;
		SELECT reset_register_generic('store.accounts', 'owner_type', 'owner_id', convention => 'rails');
		ALTER TABLE store.accounts DROP COLUMN owner_id} },
	qr/column "owner_id" of the generic reference .* no longer exists/);
scenario('generic reference without content types', sub { q{
		CREATE TABLE store.django_content_type (id serial PRIMARY KEY, app_label text, model text);
		ALTER TABLE store.accounts ADD COLUMN content_type_id int, ADD COLUMN object_id int;
		SELECT reset_register_generic('store.accounts', 'content_type_id', 'object_id', convention => 'django');
		DROP TABLE store.django_content_type} },
	qr/no django_content_type table is found/);

# ---- kept rows that point into emptied tables --------------------------------------------------------

scenario('ON DELETE CASCADE from a kept table', sub { q{
		CREATE TABLE store.reviews (product_id int REFERENCES store.products ON DELETE CASCADE);
		SELECT reset_register_table('store.reviews', 'preserve', 'review')} },
	qr/"store.reviews" has a foreign key into "store.products"/);
scenario('NOT NULL pointer in a kept table', sub { q{
		CREATE TABLE store.reviews (product_id int NOT NULL REFERENCES store.products);
		SELECT reset_register_table('store.reviews', 'preserve', 'review')} },
	qr/"store.reviews" has a foreign key into "store.products"/);
scenario('NO ACTION pointer in a kept table', sub { q{
		CREATE TABLE store.reviews (product_id int REFERENCES store.products ON DELETE RESTRICT);
		INSERT INTO store.reviews VALUES (1), (NULL)} },
	qr/"store.reviews" has a foreign key into "store.products"/);
scenario('SET DEFAULT to a row the reset deletes', sub { q{
		ALTER TABLE store.accounts ADD COLUMN fav_product int DEFAULT 1 REFERENCES store.products ON DELETE SET DEFAULT} },
	qr/"store.accounts" has a foreign key into "store.products"/);
scenario('MATCH FULL pointer registered in part', sub { q{
		ALTER TABLE store.products ADD UNIQUE (id, name);
		CREATE TABLE store.pins (product_id int, product_name text,
			FOREIGN KEY (product_id, product_name) REFERENCES store.products (id, name) MATCH FULL);
		SELECT reset_register_table('store.pins', 'preserve', 'pin');
		SELECT reset_register_nullify('store.pins', ARRAY['product_id'])} },
	qr/"store.pins" has a foreign key into "store.products"/);
scenario('kept table the operator does not own', sub { q{
		GRANT USAGE ON SCHEMA store TO rs_op;
		SELECT count(*) FROM reset_grant_operator('rs_op');
		ALTER TABLE store.products OWNER TO rs_op;
		ALTER TABLE store.orders OWNER TO rs_op;
		ALTER TABLE store.order_items OWNER TO rs_op;
		ALTER TABLE store.coupons OWNER TO rs_op;
		GRANT SELECT ON store.accounts TO rs_op;
		CREATE TABLE store.favorites (product_id int REFERENCES store.products ON DELETE SET NULL);
		INSERT INTO store.favorites VALUES (2);
		GRANT SELECT, UPDATE ON store.favorites TO rs_op;
		SELECT reset_register_table('store.favorites', 'preserve', 'favorite')} },
	qr/must be owner of table "store.favorites"/,
	'SET ROLE rs_op; SET reset_system.small_table_rows = 0;');

# every kind above was seen with its fixes
is(scalar(keys %seen), 26, 'every kind of blocker was made, and fixed');
note(join "\n", map { "$_: $seen{$_} fix(es)" } sort keys %seen);

done_testing();

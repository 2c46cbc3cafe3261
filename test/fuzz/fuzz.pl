# fuzz.pl: calls every SQL function of reset_system with hostile arguments
# and checks after each call that the server is still well.
#
# The functions are read from the catalog (pg_proc joined with pg_depend
# on the extension), so a new function is covered without touching this
# file.  Each function is called with NULL in each position, and with
# hostile values of each argument's type in each position (the other
# arguments holding ordinary values): empty, 1 MB and control-character
# strings, quoted, unicode and over-long identifiers, every kind of
# relation as regclass, invalid and deeply nested JSON, extreme numbers,
# intervals and ids, variants of the confirmation phrases.  Random
# combinations of those values then fill the case budget.  A last group
# edits the extension's own tables (they can be edited: they are in
# pg_dump) and then calls every function that reads them.
#
# Every case runs in its own transaction (rolled back, each statement
# under a savepoint) with a statement_timeout, on a throwaway server with
# the extension preloaded.  After every case the same connection must
# still answer a trivial query, and the part of the server log written
# meanwhile must hold no crash (a process terminated by a signal, TRAP,
# PANIC) and no UndefinedBehaviorSanitizer report ("runtime error:").
# Each case is one TAP test; a failing one prints its exact SQL.
#
# Knobs (environment):
#   FUZZ_SEED=N      the seed of the sampling and the random combinations
#                    (default 1: runs are reproducible)
#   FUZZ_CASES=N     the case budget (default 1500): when the systematic
#                    cases are more, a seeded sample of them runs; when
#                    fewer, tampered-table cases and random combinations
#                    make up the rest
#   FUZZ_TAMPER_CASES=N  at most that many tampered-table cases (default
#                    150, a seeded sample)
#   FUZZ_TIMEOUT=S   statement_timeout of a case, seconds (default 10)
#   FUZZ_FINDINGS=F  also write every finding (SQL and log excerpt) to F
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use POSIX ();
use Fcntl ();
use Time::HiRes ();
use ResetSystemTest;

# (a knob set to the empty string is unset)
my $seed = knob('FUZZ_SEED', 1);
my $budget = knob('FUZZ_CASES', 1500);
my $tamper_budget = knob('FUZZ_TAMPER_CASES', 150);
my $stmt_timeout = knob('FUZZ_TIMEOUT', 10);
# a case taking longer than this (wall clock) is a hang
my $hang_after = 3 * $stmt_timeout + 10;
srand($seed);

# (the test framework turns restart_after_crash off: a crash would end
# the run at the first finding)
my $node = new_node('fuzz', preload => 1, conf => "restart_after_crash = on\n");
$node->start;
my $base = $node->basedir;
my $media = load_store($node, 'postgres');

# --- the sample schema: every kind of relation, awkward names ----------

my $have_file_fdw = $node->safe_psql('postgres',
	q{SELECT count(*) FROM pg_available_extensions WHERE name = 'file_fdw'});
my $long_name = 'l' x 63;
$node->safe_psql('postgres', qq{
	CREATE SCHEMA fz;
	CREATE TABLE fz.parted (id int, note text) PARTITION BY RANGE (id);
	CREATE TABLE fz.parted_1 PARTITION OF fz.parted FOR VALUES FROM (0) TO (100);
	INSERT INTO fz.parted SELECT g, 'n' || g FROM generate_series(1, 20) g;
	CREATE MATERIALIZED VIEW fz.mv AS SELECT * FROM store.products;
	CREATE SEQUENCE fz.seq;
	CREATE INDEX fz_idx ON store.coupons (code);
	CREATE TYPE fz.comp AS (a int, b text);
	CREATE TABLE fz."q""t" (id int PRIMARY KEY, "ünï" text);
	CREATE TABLE fz."ünï" (id int PRIMARY KEY, "q""t" text);
	CREATE TABLE fz.$long_name (id int PRIMARY KEY, k text);
	CREATE TABLE fz.gref (id int PRIMARY KEY, target_type text, target_id bigint);
	INSERT INTO fz.gref VALUES (1, 'Coupon', 1), (2, 'Order', 2);
	CREATE ROLE fz_role;
	CREATE ROLE "q""t";
	CREATE ROLE "ünï";
});
my @kinds_skipped;
if ($have_file_fdw)
{
	$node->safe_psql('postgres', q{
		CREATE EXTENSION file_fdw;
		CREATE SERVER fz_files FOREIGN DATA WRAPPER file_fdw;
		CREATE FOREIGN TABLE fz.ft (a text) SERVER fz_files OPTIONS (filename '/dev/null');
	});
}
else
{
	push @kinds_skipped, 'foreign table (file_fdw is not installed)';
}

# files for the seed-object source path; a FIFO (opening it blocks)
my $seed_file = "$base/seed.txt";
append_to_file($seed_file, "seed\n");
my $fifo = "$base/fifo";
POSIX::mkfifo($fifo, 0600) or die "mkfifo: $!";
mkdir "$base/somedir";

# one committed reset with a backup: its id is an ordinary reset id
$node->safe_psql('postgres', q{SELECT reset_execute('RESET-EVERYTHING', NULL, true)});
$node->safe_psql('postgres', q{SELECT store.refill()});
my $reset_id = $node->safe_psql('postgres', q{SELECT max(reset_id) FROM reset_backups()});
die "no backup was taken" unless $reset_id =~ /^\d+$/;
my $toast = $node->safe_psql('postgres',
	q{SELECT reltoastrelid::regclass FROM pg_class WHERE oid = 'store.products'::regclass});

# --- hostile values, per argument type (SQL expressions) ---------------

my @idents = (q{'"q""t"'}, q{'"ünï"'}, q{'ünï'}, q{'a.b.c'}, q{'"a.b".c'},
	q{repeat('n', 64)}, q{repeat('é', 100)}, q{'store."orders'}, q{'"'});
my @strings = (q{''}, q{repeat('x', 1048576)}, q{E'\x01'}, q{E'a\nb'},
	q{E'\t'}, q{E'\x7f'}, q{E'a\x01b\x7fc'}, q{' '}, q{'%s%n%x%d'},
	q{E'\\\\'}, q{'../../etc/passwd'}, q{'/'}, q{'.'}, q{'/dev/zero'},
	q{'; DROP TABLE store.accounts; --'}, q{'{"a": 1}'}, q{chr(65533)},
	q{repeat('/', 5000)}, @idents);
my @phrases = (q{'RESET-EVERYTHING'}, q{'reset-everything'}, q{' RESET-EVERYTHING'},
	q{'RESET-EVERYTHING '}, q{E'RESET-EVERYTHING\n'}, q{E'RESET-EVERYTHING\x00'},
	q{'RESET‐EVERYTHING'}, q{'RESTORE-EVERYTHING'}, q{'RESET-EVERYTHING' || repeat(' ', 1048576)},
	q{'RESET_EVERYTHING'});
my @relations = (
	q{'store.orders'}, q{'fz.parted'}, q{'fz.parted_1'}, q{'store.counts'},
	q{'fz.mv'}, q{'fz.seq'}, q{'store.orders_id_seq'}, q{'store.orders_pkey'},
	q{'store.fz_idx'}, q{'fz.comp'}, "'$toast'", q{'pg_catalog.pg_class'},
	q{'pg_temp.fz_temp'}, q{'reset_system.registered_tables'},
	q{'reset_system.history'}, q{'fz."q""t"'}, q{'fz."ünï"'}, "'fz.$long_name'",
	"'reset_backup_$reset_id.orders'", q{'information_schema.tables'},
	q{0::oid}, q{4294967295::oid}, q{1::oid});
push @relations, q{'fz.ft'} if $have_file_fdw;
my $deep_array = q{repeat('[', 10000) || repeat(']', 10000)};
my $deep_object = q<repeat('{"a":', 10000) || '1' || repeat('}', 10000)>;
my %values = (
	text => [ @strings, @phrases ],
	name => [ @strings[ 0, 2, 3 ], @idents, q{'pg_catalog'}, q{'pg_toast'},
		q{'information_schema'}, q{'reset_system'}, q{'store'}, q{'fz'},
		"'reset_backup_$reset_id'", q{'pg_temp'}, q{'nonexistent'} ],
	'text[]' => [ q{'{}'}, q{ARRAY[NULL]::text[]}, q{ARRAY['']}, q{ARRAY[repeat('x', 1048576)]},
		q{ARRAY[E'\x01', E'a\nb']}, q{ARRAY['"q""t"', '"ünï"', 'a.b.c', repeat('n', 64)]},
		q{array_fill('x'::text, ARRAY[100000])}, q{'[5:6]={a,b}'::text[]},
		q{'{{a,b},{c,d}}'::text[]}, q{ARRAY['store.orders', 'store.orders']},
		q{ARRAY['image_key', 'nonexistent']}, q{ARRAY['pg_catalog.pg_class']},
		q{ARRAY['id']}, q{ARRAY[NULL, 'code']} ],
	boolean => [ q{true}, q{false} ],
	jsonb => [ q{'{}'}, q{'[]'}, q{'null'}, q{'"str"'}, q{'1e308'}, q{'-0'},
		q{'{"root": ""}'}, q{'{"root": "/"}'}, q{'{"root": 1}'}, q{'{"root": null}'},
		q{'{"root": "relative/dir"}'}, q{'{"root": "/dev/null"}'},
		q{'{"root": [], "bucket": {}}'}, q|'{"a":'|, q|'{"a": 1'|, q{'nul'},
		$deep_array, $deep_object, q{jsonb_build_object('root', repeat('x', 1048576))},
		q{(SELECT jsonb_object_agg(g::text, g) FROM generate_series(1, 10000) g)},
		q{'{"Coupon": "store.coupons", "Order": "store.orders"}'},
		q{'{"Coupon": "pg_catalog.pg_class"}'}, q{'{"Coupon": 1}'}, q{'{"": ""}'},
		q{'{"a": "\u0001"}'}, q{'{"ünï": "\"q\"\"t\""}'},
		q{'{"endpoint": "http://127.0.0.1:1", "bucket": "b", "region": "r"}'} ],
	bigint => [ q{0}, q{-1}, q{1}, q{9223372036854775807}, q{-9223372036854775808},
		q{2147483648}, "$reset_id" ],
	integer => [ q{0}, q{-1}, q{2147483647}, q{-2147483648} ],
	interval => [ q{'0'}, q{'-1 second'}, q{'1 microsecond'}, q{'178000000 years'},
		q{'-178000000 years'}, q{'infinity'}, q{'-infinity'}, q{'24 hours 1 microsecond'},
		q{'2147483647 days'}, q{'-2147483648 months'}, q{'1 month'} ],
	regrole => [ q{'postgres'}, q{'pg_monitor'}, q{'"q""t"'}, q{'"ünï"'}, q{'public'},
		q{0::oid}, q{'pg_database_owner'} ],
	regclass => \@relations,
);

# ordinary values: by argument name (and function), else by type
my %ordinary_by_name = (
	tbl => q{'store.coupons'}, action => q{'delete'}, label => q{'fz label'},
	storage_columns => q{ARRAY['code']}, force => q{false}, command => q{'SELECT 1'},
	allow_duplicate => q{false}, phase => q{'after'}, columns => q{ARRAY['code']},
	type_column => q{'target_type'}, id_column => q{'target_id'},
	targets => q{'{"Coupon": "store.coupons"}'}, convention => q{NULL},
	schema_name => q{'store'}, except_tables => q{ARRAY['accounts']},
	estimate => q{false}, plan_token => q{NULL}, backup => q{true},
	backend => q{'file'}, options => "jsonb_build_object('root', '$media')",
	prefix => q{'fz/'}, reset_id => "$reset_id", timeout => q{'1 second'},
	duration => q{'1 minute'}, role => q{'fz_role'}, can_unlock => q{true},
	can_configure => q{true}, key => q{'seed/fz.txt'}, source_path => "'$seed_file'",
	exclude => q{'{}'});
my %phrase_of = (reset_execute => q{'RESET-EVERYTHING'}, reset_restore => q{'RESTORE-EVERYTHING'});
my %ordinary_by_type = (text => q{'x'}, name => q{'store'}, 'text[]' => q{'{}'},
	boolean => q{false}, jsonb => q{'{}'}, bigint => "$reset_id", integer => q{1},
	interval => q{'1 second'}, regrole => q{'fz_role'}, regclass => q{'store.coupons'});
# per function, an argument that is the path of a file on the server also
# gets paths of awkward files
my @paths = ("'$fifo'", "'$base/somedir'", q{'/dev/zero'}, q{'/proc/self/mem'},
	q{'/nonexistent/file'}, q{'relative.txt'}, "'$base/../fuzz_data'");

# --- the functions, from the catalog ------------------------------------

my @functions;
for my $line (split /\n/, $node->safe_psql('postgres', q{
	SELECT quote_ident(n.nspname) || '.' || quote_ident(p.proname), p.proname,
	       array_to_string(ARRAY(SELECT format_type(t, NULL)
	                             FROM unnest(p.proargtypes) WITH ORDINALITY a(t, i) ORDER BY i), ','),
	       array_to_string(ARRAY(SELECT coalesce(x.nm, '')
	                             FROM unnest(coalesce(p.proargnames, array_fill(''::text, ARRAY[p.pronargs])),
	                                         coalesce(p.proargmodes, array_fill('i'::"char", ARRAY[p.pronargs])))
	                                  WITH ORDINALITY x(nm, md, i)
	                             WHERE x.md IN ('i', 'b', 'v') ORDER BY x.i), ',')
	FROM pg_proc p
	JOIN pg_namespace n ON n.oid = p.pronamespace
	JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
	JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'reset_system'
	ORDER BY p.proname, p.oid}))
{
	my ($qname, $name, $types, $names) = split /\|/, $line, -1;
	my @t = map { s/^character varying$/text/r } grep { length } split /,/, $types;
	my @n = split /,/, $names, -1;
	push @functions, { qname => $qname, name => $name, types => \@t,
		names => [ map { $n[$_] // '' } 0 .. $#t ] };
}
ok(@functions >= 20, scalar(@functions) . ' functions of the extension found in the catalog');

# the ordinary value of argument I of function F
sub ordinary
{
	my ($f, $i) = @_;
	my $n = $f->{names}[$i];
	return $phrase_of{ $f->{name} } if $n eq 'phrase' && $phrase_of{ $f->{name} };
	return $ordinary_by_name{$n} if exists $ordinary_by_name{$n};
	return $ordinary_by_type{ $f->{types}[$i] } // 'NULL';
}

# the hostile values of argument I of function F
sub hostile
{
	my ($f, $i) = @_;
	my @v = @{ $values{ $f->{types}[$i] } // [] };
	push @v, @paths if $f->{names}[$i] =~ /path/;
	return @v;
}

# the call of F with the given argument expressions
sub call_sql
{
	my ($f, @args) = @_;
	my @typed = map { "($args[$_])::$f->{types}[$_]" } 0 .. $#args;
	return "SELECT * FROM $f->{qname}(" . join(', ', @typed) . ')';
}

my @systematic;
my %unknown_types;
for my $f (@functions)
{
	my $nargs = @{ $f->{types} };
	my @ord = map { ordinary($f, $_) } 0 .. $nargs - 1;
	push @systematic, [ "$f->{name}: ordinary", call_sql($f, @ord) ];
	push @systematic, [ "$f->{name}: all NULL", call_sql($f, ('NULL') x $nargs) ] if $nargs;
	for my $i (0 .. $nargs - 1)
	{
		my $what = "$f->{name} arg " . ($i + 1) . " ($f->{names}[$i] $f->{types}[$i])";
		$unknown_types{ $f->{types}[$i] } = 1 unless $values{ $f->{types}[$i] };
		my @args = @ord;
		$args[$i] = 'NULL';
		push @systematic, [ "$what = NULL", call_sql($f, @args) ];
		for my $v (hostile($f, $i))
		{
			@args = @ord;
			$args[$i] = $v;
			push @systematic, [ "$what = " . short($v), call_sql($f, @args) ];
		}
	}
}
diag("argument types without hostile values (NULL and ordinary only): "
	  . join(', ', sort keys %unknown_types)) if %unknown_types;
diag("relation kinds not covered: $_") for @kinds_skipped;

# tampered tables: each column of the extension's own tables set to odd
# values, then every function that reads them (the plans too: their
# storage check runs in a background worker while this transaction holds
# the changed rows).
my @readers = (
	q{SELECT reset_plan()}, q{SELECT reset_plan_json()},
	q{SELECT * FROM reset_backups()}, "SELECT reset_restore_plan($reset_id)",
	"SELECT reset_restore($reset_id, 'RESTORE-EVERYTHING')",
	q{SELECT * FROM reset_history()}, q{SELECT * FROM reset_history_detail()},
	q{SELECT * FROM reset_purge_totals()}, q{SELECT * FROM reset_purge_status()},
	q{SELECT * FROM reset_config()},
	"SELECT reset_backup_drop($reset_id)", q{SELECT reset_purge_retry()},
	q{SELECT reset_execute('RESET-EVERYTHING')});
my %tamper_values = (
	jsonb => [ q{NULL}, q{'{}'}, q{'[]'}, q{'"x"'}, q{'[{}]'}, q{'{"a": [null]}'}, q{'[1, "x", null]'} ],
	text => [ q{NULL}, q{''}, q{E'\x01'}, q{'"q""t".x'}, q{repeat('x', 100000)}, q{'a.b.c'} ],
	name => [ q{NULL}, q{''}, q{'"q""t"'}, q{'nonexistent'} ],
	'text[]' => [ q{NULL}, q{'{}'}, q{ARRAY[NULL]::text[]}, q{ARRAY['']} ],
	bigint => [ q{NULL}, q{-1}, q{0}, q{9223372036854775807} ],
	integer => [ q{NULL}, q{-1}, q{2147483647} ],
	oid => [ q{0}, q{4294967295} ],
	regclass => [ q{0}, q{'pg_catalog.pg_class'} ],
	timestamptz => [ q{'infinity'}, q{'-infinity'} ],
	interval => [ q{'-178000000 years'} ],
);
my @tampered;
for my $line (split /\n/, $node->safe_psql('postgres', q{
	SELECT c.oid::regclass, quote_ident(a.attname), format_type(a.atttypid, NULL)
	FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
	WHERE c.relnamespace = 'reset_system'::regnamespace AND c.relkind = 'r'
	  AND a.attnum > 0 AND NOT a.attisdropped
	ORDER BY 1, a.attnum}))
{
	my ($tbl, $col, $type) = split /\|/, $line;
	$type = 'timestamptz' if $type eq 'timestamp with time zone';
	for my $v (@{ $tamper_values{$type} // [] })
	{
		push @tampered, [ "tampered $tbl.$col = " . short($v),
			join(";\n", "UPDATE $tbl SET $col = $v", @readers) ];
	}
}

# the case list: the systematic cases (a seeded sample when they are over
# budget), a sample of the tampered-table cases (each calls a dozen
# functions: slower), random combinations for the rest of the budget
my @cases = sample($budget, @systematic);
push @cases, sample(min($tamper_budget, $budget - @cases), @tampered);
while (@cases < $budget)
{
	my $f = $functions[ int rand @functions ];
	my $nargs = @{ $f->{types} };
	next unless $nargs;
	my @args = map {
		my @pool = ('NULL', ordinary($f, $_), hostile($f, $_));
		$pool[ int rand @pool ]
	} 0 .. $nargs - 1;
	push @cases, [ "$f->{name}: random combination", call_sql($f, @args) ];
}

ok(@cases > 0, scalar(@cases) . ' cases to run');

# --- running them -------------------------------------------------------

my $logfile = $node->logfile;
my $log_offset = -s $logfile;
my @findings;
my ($in, $out, $err, $psql) = ('', '', '');
my $tmo = IPC::Run::timeout($hang_after);
my $serial = 0;

# session(): a new psql session (waiting for the server after a crash)
sub session
{
	$psql->kill_kill if $psql;
	my $deadline = time + 120;
	while (1)
	{
		my $answer = eval { ($node->psql('postgres', 'SELECT 1'))[1] } // '';
		last if $answer eq '1';
		die "the server does not come back after a crash" if time > $deadline;
		Time::HiRes::sleep(0.5);
	}
	($in, $out, $err) = ('', '', '');
	$tmo->start($hang_after);
	$psql = IPC::Run::start(
		[ 'psql', '-X', '-q', '-d', $node->connstr('postgres') . ' application_name=fuzz' ],
		'<', \$in, '>', \$out, '2>', \$err, $tmo);
	$in .= join("\n", '\set ON_ERROR_ROLLBACK on', '\set VERBOSITY terse', '\o /dev/null',
		'CREATE TEMP TABLE fz_temp (id int);', '\echo @@READY', '');
	$psql->pump until $out =~ /\@\@READY/;
	return;
}

# new_log(): what the server logged since the last call
sub new_log
{
	open my $fh, '<', $logfile or die "$logfile: $!";
	seek $fh, $log_offset, 0;
	local $/;
	my $text = <$fh> // '';
	$log_offset = tell $fh;
	close $fh;
	return $text;
}

# unstick(): after a hang, end the stuck backend; opening the FIFO for
# writing releases a reader blocked on it
sub unstick
{
	if (sysopen my $w, $fifo, Fcntl::O_WRONLY() | Fcntl::O_NONBLOCK())
	{
		close $w;
	}
	$node->psql('postgres',
		q{SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'fuzz'});
	return;
}

my $bad_log = qr/terminated by signal|was terminated by exception|\bTRAP:|\bPANIC:|server process .* was terminated|runtime error:/;

session();
my $t0 = Time::HiRes::time();
for my $case (@cases)
{
	my ($what, $sql) = @$case;
	$serial++;
	($out, $err) = ('', '');
	$in .= "\\unset alive\nBEGIN;\nSET LOCAL statement_timeout = '${stmt_timeout}s';\n"
	  . "$sql;\nROLLBACK;\nSELECT 'ok' AS alive \\gset\n\\echo \@\@END $serial :alive\n";
	$tmo->start($hang_after);
	my $started = Time::HiRes::time();
	my $problem;
	eval {
		$psql->pump while $psql->pumpable && $out !~ /\@\@END $serial /;
		1;
	} or $problem = ($@ =~ /timeout/ ? "no answer after $hang_after s (hang)" : "psql: $@");
	if (!$problem && $out !~ /\@\@END $serial ok/)
	{
		$problem = 'the connection is lost: ' . (($err =~ /([^\n]*(?:lost|terminated|closed)[^\n]*)/)[0] // 'psql ended');
	}
	my $hung = $problem && $problem =~ /hang/;
	unstick() if $hung;
	# a crash is logged by the postmaster, possibly just after the backend died
	Time::HiRes::sleep(0.3) if $problem;
	my $log = new_log();
	my @bad = grep { /$bad_log/ } split /\n/, $log;
	if (@bad)
	{
		my @excerpt = grep { /$bad_log|ERROR|STATEMENT|runtime error|#\d+ 0x/ } split /\n/, $log;
		$problem = join("\n", ($problem // 'the server log reports a crash'), @excerpt[ 0 .. ($#excerpt < 30 ? $#excerpt : 30) ]);
	}
	my $secs = sprintf '%.1f', Time::HiRes::time() - $started;
	if ($problem)
	{
		push @findings, "case $serial ($what), ${secs}s:\n$sql;\n$problem\n";
		ok(0, "case $serial: $what") or diag("SQL:\n$sql;\n$problem");
		session();
		new_log();
	}
	else
	{
		ok(1, "case $serial: $what");
	}
}
$psql->kill_kill;
my $elapsed = Time::HiRes::time() - $t0;

diag(sprintf 'fuzz: %d functions, %d cases (of %d systematic and %d tampered-table ones; seed %s), '
	  . '%d findings, %.0f s', scalar @functions, scalar @cases, scalar @systematic,
	scalar @tampered, $seed, scalar @findings, $elapsed);
if ($ENV{FUZZ_FINDINGS} && @findings)
{
	open my $fh, '>>', $ENV{FUZZ_FINDINGS} or die "$ENV{FUZZ_FINDINGS}: $!";
	print $fh join("\n", @findings), "\n";
	close $fh;
}

done_testing();

# short(SQL): a value expression cut for a test name
sub short
{
	my ($v) = @_;
	$v =~ s/\n/\\n/g;
	return length $v > 40 ? substr($v, 0, 37) . '...' : $v;
}

# knob(NAME, DEFAULT): the environment variable NAME, DEFAULT when unset
# or empty
sub knob
{
	my ($name, $default) = @_;
	return (defined $ENV{$name} && $ENV{$name} ne '') ? $ENV{$name} : $default;
}

# sample(N, LIST): N elements of the list (all when it has no more), in
# their order
sub sample
{
	my ($n, @list) = @_;
	return @list if @list <= $n;
	return () if $n <= 0;
	my @pick = sort { $a <=> $b } (shuffle(0 .. $#list))[ 0 .. $n - 1 ];
	return @list[@pick];
}

# min(A, B)
sub min
{
	return $_[0] < $_[1] ? $_[0] : $_[1];
}

# shuffle(LIST): the list in a random order (from srand's seed)
sub shuffle
{
	my @a = @_;
	for (my $i = $#a; $i > 0; $i--)
	{
		my $j = int rand($i + 1);
		@a[ $i, $j ] = @a[ $j, $i ];
	}
	return @a;
}

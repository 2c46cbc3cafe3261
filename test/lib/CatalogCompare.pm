# CatalogCompare.pm: what the reset_system extension consists of, as text,
# so that two databases can be compared (a fresh install against an
# upgraded one).
#
# catalog_lines(NODE, DB) returns one line per property of every object the
# extension owns (pg_depend deptype 'e'), found by query, never from a
# list: functions (identity arguments, arguments with defaults, result,
# language, symbol, volatility, strictness, security definer, leakproof,
# parallel safety, cost, rows, proconfig, owner, comment, ACL, initial
# privileges), schemas, tables (columns by position with type, collation,
# not null, default, identity, generated, comment; constraints and indexes
# with their definitions; triggers, policies, row security, options, owner,
# comment, ACL), sequences (type, start, increment, bounds, cache, cycle,
# owning column), views, types, any other member by its description, and
# the extension's pg_extension_config_dump marks (extconfig with
# extcondition).  Lines are sorted, so the order in which objects were
# created does not matter; column positions do.
#
# compare_catalogs(A_LINES, B_LINES, A_NAME, B_NAME) returns a readable
# diff ('' when identical): the lines only one side has, grouped by object.
package CatalogCompare;

use strict;
use warnings;

use Exporter 'import';
our @EXPORT = qw(catalog_lines compare_catalogs catalog_summary);

my $CATALOG_SQL = <<'SQL';
WITH ext AS (
    SELECT e.oid, e.extname, e.extversion, e.extrelocatable, e.extnamespace,
           e.extconfig, e.extcondition, e.extowner
    FROM pg_catalog.pg_extension e WHERE e.extname = 'reset_system'
),
member AS (
    SELECT d.classid, d.objid, d.objsubid
    FROM pg_catalog.pg_depend d, ext
    WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
      AND d.refobjid = ext.oid AND d.deptype = 'e'
),
initpriv AS (
    SELECT i.classoid, i.objoid, i.objsubid,
           pg_catalog.array_to_string(ARRAY(SELECT a::text FROM pg_catalog.unnest(i.initprivs) a ORDER BY 1), ',') AS privs
    FROM pg_catalog.pg_init_privs i WHERE i.privtype = 'e'
),
fn AS (
    SELECT p.*, n.nspname,
           'function ' || pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(p.proname)
             || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')' AS obj
    FROM member m
    JOIN pg_catalog.pg_proc p ON m.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND p.oid = m.objid
    JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
),
rel AS (
    SELECT c.*, n.nspname,
           CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'S' THEN 'sequence'
                          WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                          WHEN 'f' THEN 'foreign table' WHEN 'c' THEN 'type' ELSE 'relation' END
             || ' ' || pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname) AS obj
    FROM member m
    JOIN pg_catalog.pg_class c ON m.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND c.oid = m.objid
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
),
col AS (
    SELECT r.obj, r.oid AS relid, a.*,
           pg_catalog.row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum) AS position
    FROM rel r JOIN pg_catalog.pg_attribute a ON a.attrelid = r.oid
    WHERE a.attnum > 0 AND NOT a.attisdropped
),
lines(line) AS (
    -- the extension itself
    SELECT 'extension | version ' || extversion FROM ext
    UNION ALL SELECT 'extension | relocatable ' || extrelocatable FROM ext
    UNION ALL SELECT 'extension | schema ' || pg_catalog.quote_ident(n.nspname)
      FROM ext JOIN pg_catalog.pg_namespace n ON n.oid = ext.extnamespace
    UNION ALL SELECT 'extension | dumped ' || c.conf::pg_catalog.regclass::text || ' condition '
                     || pg_catalog.quote_literal(COALESCE(ext.extcondition[c.i], '(none)'))
      FROM ext, pg_catalog.unnest(ext.extconfig) WITH ORDINALITY c(conf, i)
    UNION ALL SELECT 'extension | comment ' || COALESCE(pg_catalog.obj_description(ext.oid, 'pg_extension'), '(none)') FROM ext

    -- functions
    UNION ALL SELECT obj || ' | kind ' || prokind::text FROM fn
    UNION ALL SELECT obj || ' | arguments ' || pg_catalog.pg_get_function_arguments(oid) FROM fn
    UNION ALL SELECT obj || ' | returns ' || COALESCE(pg_catalog.pg_get_function_result(oid), '(none)') FROM fn
    UNION ALL SELECT obj || ' | language ' || l.lanname FROM fn JOIN pg_catalog.pg_language l ON l.oid = fn.prolang
    UNION ALL SELECT obj || ' | source ' || prosrc FROM fn
    UNION ALL SELECT obj || ' | library ' || COALESCE(probin, '(none)') FROM fn
    UNION ALL SELECT obj || ' | volatility ' || provolatile::text FROM fn
    UNION ALL SELECT obj || ' | strict ' || proisstrict FROM fn
    UNION ALL SELECT obj || ' | security definer ' || prosecdef FROM fn
    UNION ALL SELECT obj || ' | leakproof ' || proleakproof FROM fn
    UNION ALL SELECT obj || ' | parallel ' || proparallel::text FROM fn
    UNION ALL SELECT obj || ' | cost ' || procost || ' rows ' || prorows FROM fn
    UNION ALL SELECT obj || ' | returns set ' || proretset FROM fn
    UNION ALL SELECT obj || ' | config ' || COALESCE(pg_catalog.array_to_string(proconfig, ', '), '(none)') FROM fn
    UNION ALL SELECT obj || ' | owner ' || pg_catalog.pg_get_userbyid(proowner) FROM fn
    UNION ALL SELECT obj || ' | comment ' || COALESCE(pg_catalog.obj_description(oid, 'pg_proc'), '(none)') FROM fn
    UNION ALL SELECT obj || ' | acl ' || COALESCE(proacl::text, '(default)') FROM fn
    UNION ALL SELECT obj || ' | initial privileges ' || COALESCE(i.privs, '(none)')
      FROM fn LEFT JOIN initpriv i ON i.classoid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND i.objoid = fn.oid AND i.objsubid = 0

    -- schemas
    UNION ALL SELECT 'schema ' || pg_catalog.quote_ident(s.nspname) || ' | owner ' || pg_catalog.pg_get_userbyid(s.nspowner)
      FROM member m JOIN pg_catalog.pg_namespace s ON m.classid = 'pg_catalog.pg_namespace'::pg_catalog.regclass AND s.oid = m.objid
    UNION ALL SELECT 'schema ' || pg_catalog.quote_ident(s.nspname) || ' | acl ' || COALESCE(s.nspacl::text, '(default)')
      FROM member m JOIN pg_catalog.pg_namespace s ON m.classid = 'pg_catalog.pg_namespace'::pg_catalog.regclass AND s.oid = m.objid
    UNION ALL SELECT 'schema ' || pg_catalog.quote_ident(s.nspname) || ' | comment ' || COALESCE(pg_catalog.obj_description(s.oid, 'pg_namespace'), '(none)')
      FROM member m JOIN pg_catalog.pg_namespace s ON m.classid = 'pg_catalog.pg_namespace'::pg_catalog.regclass AND s.oid = m.objid
    UNION ALL SELECT 'schema ' || pg_catalog.quote_ident(s.nspname) || ' | initial privileges ' || COALESCE(i.privs, '(none)')
      FROM member m JOIN pg_catalog.pg_namespace s ON m.classid = 'pg_catalog.pg_namespace'::pg_catalog.regclass AND s.oid = m.objid
      LEFT JOIN initpriv i ON i.classoid = 'pg_catalog.pg_namespace'::pg_catalog.regclass AND i.objoid = s.oid AND i.objsubid = 0

    -- tables, sequences, views
    UNION ALL SELECT obj || ' | persistence ' || relpersistence::text FROM rel
    UNION ALL SELECT obj || ' | owner ' || pg_catalog.pg_get_userbyid(relowner) FROM rel
    UNION ALL SELECT obj || ' | acl ' || COALESCE(relacl::text, '(default)') FROM rel
    UNION ALL SELECT obj || ' | comment ' || COALESCE(pg_catalog.obj_description(oid, 'pg_class'), '(none)') FROM rel
    UNION ALL SELECT obj || ' | options ' || COALESCE(pg_catalog.array_to_string(reloptions, ', '), '(none)') FROM rel
    UNION ALL SELECT obj || ' | row security ' || relrowsecurity || ' forced ' || relforcerowsecurity FROM rel WHERE relkind IN ('r', 'p')
    UNION ALL SELECT obj || ' | partitioned by ' || pg_catalog.pg_get_partkeydef(oid) FROM rel WHERE relkind = 'p'
    UNION ALL SELECT obj || ' | initial privileges ' || COALESCE(i.privs, '(none)')
      FROM rel LEFT JOIN initpriv i ON i.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass AND i.objoid = rel.oid AND i.objsubid = 0
    UNION ALL SELECT obj || ' | definition ' || pg_catalog.pg_get_viewdef(oid) FROM rel WHERE relkind IN ('v', 'm')

    -- columns, by position among the live columns
    UNION ALL SELECT obj || ' | column ' || position || ' ' || pg_catalog.quote_ident(attname)
                     || ' ' || pg_catalog.format_type(atttypid, atttypmod)
                     || CASE WHEN attnotnull THEN ' NOT NULL' ELSE '' END
                     || COALESCE(' COLLATE ' || (SELECT pg_catalog.quote_ident(co.collname) FROM pg_catalog.pg_collation co
                                                WHERE co.oid = col.attcollation AND col.attcollation <> 0
                                                  AND col.attcollation <> (SELECT t.typcollation FROM pg_catalog.pg_type t WHERE t.oid = col.atttypid)), '')
                     || COALESCE(' DEFAULT ' || (SELECT pg_catalog.pg_get_expr(ad.adbin, ad.adrelid) FROM pg_catalog.pg_attrdef ad
                                                 WHERE ad.adrelid = col.relid AND ad.adnum = col.attnum AND col.attgenerated = ''), '')
                     || COALESCE(' GENERATED ALWAYS AS (' || (SELECT pg_catalog.pg_get_expr(ad.adbin, ad.adrelid) FROM pg_catalog.pg_attrdef ad
                                                 WHERE ad.adrelid = col.relid AND ad.adnum = col.attnum AND col.attgenerated <> '') || ') STORED', '')
                     || CASE attidentity WHEN 'a' THEN ' GENERATED ALWAYS AS IDENTITY'
                                         WHEN 'd' THEN ' GENERATED BY DEFAULT AS IDENTITY' ELSE '' END
      FROM col WHERE (SELECT relkind FROM pg_catalog.pg_class WHERE oid = col.relid) <> 'S'
    UNION ALL SELECT obj || ' | column ' || pg_catalog.quote_ident(attname) || ' comment ' || pg_catalog.col_description(relid, attnum)
      FROM col WHERE pg_catalog.col_description(relid, attnum) IS NOT NULL
    UNION ALL SELECT obj || ' | column ' || pg_catalog.quote_ident(attname) || ' acl ' || attacl::text
      FROM col WHERE attacl IS NOT NULL

    -- constraints, indexes, triggers, policies
    UNION ALL SELECT r.obj || ' | constraint ' || pg_catalog.quote_ident(k.conname) || ' ' || pg_catalog.pg_get_constraintdef(k.oid)
      FROM rel r JOIN pg_catalog.pg_constraint k ON k.conrelid = r.oid
    UNION ALL SELECT r.obj || ' | index ' || pg_catalog.pg_get_indexdef(i.indexrelid)
                     || COALESCE(' -- ' || pg_catalog.obj_description(i.indexrelid, 'pg_class'), '')
      FROM rel r JOIN pg_catalog.pg_index i ON i.indrelid = r.oid
    UNION ALL SELECT r.obj || ' | trigger ' || pg_catalog.pg_get_triggerdef(t.oid)
                     || CASE t.tgenabled WHEN 'O' THEN '' ELSE ' (enabled ' || t.tgenabled::text || ')' END
      FROM rel r JOIN pg_catalog.pg_trigger t ON t.tgrelid = r.oid AND NOT t.tgisinternal
    UNION ALL SELECT r.obj || ' | policy ' || pg_catalog.quote_ident(p.polname) || ' ' || p.polcmd::text
                     || ' permissive ' || p.polpermissive
                     || ' to ' || pg_catalog.array_to_string(ARRAY(SELECT CASE WHEN x = 0 THEN 'public' ELSE pg_catalog.pg_get_userbyid(x) END
                                                              FROM pg_catalog.unnest(p.polroles) x ORDER BY 1), ',')
                     || ' using ' || COALESCE(pg_catalog.pg_get_expr(p.polqual, p.polrelid), '-')
                     || ' check ' || COALESCE(pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid), '-')
      FROM rel r JOIN pg_catalog.pg_policy p ON p.polrelid = r.oid

    -- sequences
    UNION ALL SELECT r.obj || ' | ' || pg_catalog.format_type(s.seqtypid, NULL) || ' start ' || s.seqstart
                     || ' increment ' || s.seqincrement || ' min ' || s.seqmin || ' max ' || s.seqmax
                     || ' cache ' || s.seqcache || ' cycle ' || s.seqcycle
      FROM rel r JOIN pg_catalog.pg_sequence s ON s.seqrelid = r.oid
    UNION ALL SELECT r.obj || ' | owned by ' || d.refobjid::pg_catalog.regclass::text || '.'
                     || pg_catalog.quote_ident((SELECT attname FROM pg_catalog.pg_attribute WHERE attrelid = d.refobjid AND attnum = d.refobjsubid))
                     || ' (' || d.deptype::text || ')'
      FROM rel r JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = r.oid
                                            AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.deptype IN ('a', 'i')
      WHERE r.relkind = 'S'

    -- types (composites, enums, domains, ...)
    UNION ALL SELECT 'type ' || pg_catalog.format_type(t.oid, NULL) || ' | kind ' || t.typtype::text
                     || COALESCE(' labels ' || (SELECT pg_catalog.string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
                                                FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid), '')
                     || COALESCE(' over ' || pg_catalog.format_type(NULLIF(t.typbasetype, 0), t.typtypmod), '')
                     || ' not null ' || t.typnotnull
                     || COALESCE(' default ' || t.typdefault, '')
      FROM member m JOIN pg_catalog.pg_type t ON m.classid = 'pg_catalog.pg_type'::pg_catalog.regclass AND t.oid = m.objid
    UNION ALL SELECT 'type ' || pg_catalog.format_type(t.oid, NULL) || ' | constraint ' || k.conname || ' ' || pg_catalog.pg_get_constraintdef(k.oid)
      FROM member m JOIN pg_catalog.pg_type t ON m.classid = 'pg_catalog.pg_type'::pg_catalog.regclass AND t.oid = m.objid
      JOIN pg_catalog.pg_constraint k ON k.contypid = t.oid
    UNION ALL SELECT 'type ' || pg_catalog.format_type(t.oid, NULL) || ' | acl ' || COALESCE(t.typacl::text, '(default)')
      FROM member m JOIN pg_catalog.pg_type t ON m.classid = 'pg_catalog.pg_type'::pg_catalog.regclass AND t.oid = m.objid
    UNION ALL SELECT 'type ' || pg_catalog.format_type(t.oid, NULL) || ' | comment ' || COALESCE(pg_catalog.obj_description(t.oid, 'pg_type'), '(none)')
      FROM member m JOIN pg_catalog.pg_type t ON m.classid = 'pg_catalog.pg_type'::pg_catalog.regclass AND t.oid = m.objid

    -- anything else the extension owns (casts, operators, event triggers, ...)
    UNION ALL SELECT 'object ' || pg_catalog.pg_describe_object(m.classid, m.objid, m.objsubid)
                     || ' | comment ' || COALESCE(pg_catalog.obj_description(m.objid, m.classid::pg_catalog.regclass::name), '(none)')
      FROM member m
      WHERE m.classid NOT IN ('pg_catalog.pg_proc'::pg_catalog.regclass, 'pg_catalog.pg_class'::pg_catalog.regclass,
                              'pg_catalog.pg_namespace'::pg_catalog.regclass, 'pg_catalog.pg_type'::pg_catalog.regclass)
)
SELECT line FROM lines ORDER BY line COLLATE "C"
SQL

# catalog_lines(NODE, DB): the sorted property lines of the extension in DB.
sub catalog_lines
{
	my ($node, $db) = @_;
	my $out = $node->safe_psql($db, $CATALOG_SQL);
	return [ split /\n/, $out ];
}

# catalog_summary(LINES): "31 functions, 14 tables, ... (612 properties)".
sub catalog_summary
{
	my ($lines) = @_;
	my %objects;
	for (@$lines)
	{
		my ($obj) = /^(.*?) \| /;
		next unless defined $obj;
		my ($kind) = $obj =~ /^(\S+(?: view| table)?)/;
		$objects{$kind}{$obj} = 1;
	}
	my @parts = map { scalar(keys %{ $objects{$_} }) . " $_" . ($_ eq 'extension' ? '' : '(s)') }
	  sort keys %objects;
	return join(', ', @parts) . ' (' . scalar(@$lines) . ' properties)';
}

# compare_catalogs(A, B, A_NAME, B_NAME): '' when the line sets are equal,
# else the differences, object by object: "- " lines only A has, "+ "
# lines only B has.
sub compare_catalogs
{
	my ($left, $right, $left_name, $right_name) = @_;
	my (%in_a, %in_b);
	$in_a{$_}++ for @$left;
	$in_b{$_}++ for @$right;
	my @only_a = grep { !$in_b{$_} } @$left;
	my @only_b = grep { !$in_a{$_} } @$right;
	return '' unless @only_a || @only_b;

	my %by_object;
	for my $pair ([ '-', \@only_a ], [ '+', \@only_b ])
	{
		for my $line (@{ $pair->[1] })
		{
			my ($obj, $prop) = $line =~ /^(.*?) \| (.*)$/;
			($obj, $prop) = ($line, '') unless defined $obj;
			push @{ $by_object{$obj} }, "  $pair->[0] $prop";
		}
	}
	my $diff = "--- $left_name\n+++ $right_name\n";
	for my $obj (sort keys %by_object)
	{
		$diff .= "$obj\n" . join("\n", sort { substr($a, 4) cmp substr($b, 4) || $a cmp $b } @{ $by_object{$obj} }) . "\n";
	}
	return $diff;
}

1;

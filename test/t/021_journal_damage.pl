# A damaged attempt journal entry (not JSON, wrong types, a timestamp the
# server cannot read, an unknown outcome, missing members, bytes that are
# not UTF-8, too big) is moved aside into the journal's damaged/
# directory with a WARNING naming it and saying what was wrong; the other
# entries are still copied, reset_history() still answers, the purge
# worker still purges, and reset_purge_wait() says a file was moved aside.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(sleep);
use ResetSystemTest;

my $node = new_node('journal_damage', preload => 1);
$node->start;
my $root = $node->basedir . '/media';
setup_app($node, 'app', $root, 1);

my $oid = $node->safe_psql('postgres', q{SELECT oid FROM pg_database WHERE datname = 'app'});
my $journal = $node->data_dir . '/pg_reset_system/journal';
mkdir $node->data_dir . '/pg_reset_system';
mkdir $journal;

# plant(NAME, BYTES): a journal file of database app, written as the
# server writes them (a temporary name, then renamed into place).
sub plant
{
	my ($name, $bytes) = @_;
	open my $fh, '>:raw', "$journal/$name.tmp" or die "cannot write $name: $!";
	print $fh $bytes;
	close $fh;
	rename "$journal/$name.tmp", "$journal/$name" or die "cannot rename $name: $!";
	return "$oid-$name";
}

# a well-formed entry of the shape the server writes, then changed
sub entry
{
	my (%over) = @_;
	my %e = (at => '"2026-01-01 00:00:00+00"', database_oid => $oid, database => '"app"',
		environment => '"test"', role => '"someone"', session_role => '"someone"',
		outcome => '"refused"', reason => '"planted"', sqlstate => '"RS001"',
		reset_id => 'null', rows_deleted => 'null', xid => 'null', client => 'null',
		application => '"planted"', pid => 1, %over);
	return '{' . join(',', map { qq{"$_":$e{$_}} } grep { defined $e{$_} } sort keys %e) . '}';
}

my %damaged = (
	"$oid-1-1-1.json" => [ '{"at":"not a time","outcome":"refused"}', qr/"database" is missing, not a string/ ],
	"$oid-1-1-2.json" => [ entry(at => '"not a time"'), qr/The database could not store it: invalid input syntax for type timestamp with time zone/ ],
	"$oid-1-1-3.json" => [ '{"at": "2026-01-01", "outcome": ', qr/It is not valid JSON/ ],
	"$oid-1-1-4.json" => [ entry(reset_id => '"seven"'), qr/"reset_id" is neither an integer nor null/ ],
	"$oid-1-1-5.json" => [ entry(outcome => '"exploded"'), qr/Unknown outcome "exploded"/ ],
	"$oid-1-1-6.json" => [ entry(environment => "\"caf\xe9\""), qr/It is not valid JSON/ ],
	"$oid-1-1-7.json" => [ entry(reason => '"' . ('x' x 100_000) . '"'), qr/more than an entry ever holds/ ],
	"$oid-1-1-8.json" => [ entry(environment => undef), qr/"environment" is missing, not a string/ ],
	"$oid-1-1-9.json" => [ entry(xid => '"12; DROP TABLE x"'), qr/"xid" is not a transaction id/ ],
);
my $good = "$oid-1-2-1.json";

# ---- reset_history() copes --------------------------------------------
for my $name (sort keys %damaged)
{
	plant($name, $damaged{$name}[0]);
}
plant($good, entry(reason => '"the good one"'));

my ($ret, $out, $err) = $node->psql('app',
	q{SELECT count(*) FILTER (WHERE reason = 'the good one') FROM reset_history()});
is($ret, 0, 'reset_history() answers with damaged journal files present') or diag($err);
is($out, '1', 'and the good entry among them is copied');

for my $name (sort keys %damaged)
{
	ok(!-e "$journal/$name" && -e "$journal/damaged/$name", "$name is moved into damaged/");
	ok($node->log_contains(
		qr/WARNING:  reset_system moved the damaged attempt journal entry "pg_reset_system\/journal\/\Q$name\E" to "pg_reset_system\/journal\/damaged\/\Q$name\E"\n.*DETAIL:  .*$damaged{$name}[1]/),
		"the WARNING names $name and says what was wrong");
}
$node->safe_psql('app', 'SELECT reset_purge_kick()');
my $deadline = time + 60;
sleep 0.2 while -e "$journal/$good" && time < $deadline;
ok(!-e "$journal/$good", 'the good entry is removed once copied');

# ---- a read-only transaction copies nothing, and damages nothing ---------
my $readonly = "$oid-1-2-2.json";
plant($readonly, entry(reason => '"read only"'));
($ret, $out, $err) = $node->psql('app',
	q{SET default_transaction_read_only = on; SELECT count(*) >= 0 FROM reset_history()});
is($out, 't', 'reset_history() answers in a read-only transaction') or diag($err);
ok(!-e "$journal/damaged/$readonly", 'and does not take a good entry for a damaged one');

# ---- the worker copes: it still purges ----------------------------------
my $planted = "$oid-1-3-1.json";
plant($planted, '{"at":"not a time","outcome":"refused"}');
my $deleted = app_keys($node, 'app', 'deleted');
$node->safe_psql('app', "SELECT reset_execute('RESET-EVERYTHING')");
my $wait = $node->safe_psql('app', q{SELECT reset_purge_wait('2 minutes')});
like($wait, qr/^Purged \d+ storage object\(s\)/, 'the worker purges with a damaged journal file present');
is(files_present($root, $deleted), 0, 'the files of the deleted rows are gone');
ok(!-e "$journal/$planted"
	  && -e "$journal/damaged/$planted", 'the worker moved the planted file aside');
like($wait, qr/Note: 10 damaged attempt journal file\(s\) of this database were moved aside to \$PGDATA\/pg_reset_system\/journal\/damaged/,
	'reset_purge_wait() says journal files were moved aside');
ok($node->log_contains(qr/reset_system moved the damaged attempt journal entry "pg_reset_system\/journal\/\Q$planted\E"/),
	'with a WARNING naming the file');

# the attempts of the resets are recorded as before
$node->psql('app', "SELECT reset_execute('wrong phrase')");
ok($node->poll_query_until('app',
	q{SELECT count(*) = 1 FROM reset_history() WHERE outcome = 'refused' AND reason = 'confirmation phrase does not match'}),
	'a new refusal is recorded');

$node->stop;
done_testing();

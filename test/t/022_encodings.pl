# Text from a database that is not UTF-8 reaches JSON intact: in a
# SQL_ASCII and a LATIN1 database labelled with Latin-1 bytes, the NOTIFY
# payload of a reset has every member and the label, and a refusal is
# recorded with the label (not "unset").  In SQL_ASCII, bytes that are
# not UTF-8 are shown as \xNN.  A very long label is cut in the payload,
# which stays valid JSON under NOTIFY's limit, and the reset goes on.
# Errors echo user input cut after 64 characters, control characters
# escaped.
use strict;
use warnings;

use Encode ();
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use ResetSystemTest;

my $node = new_node('encodings', preload => 1);
$node->start;

# setup(DB, CREATEDB OPTIONS, LABEL SQL): a database with one registered
# table, labelled from inside itself (so the label is in its encoding)
sub setup
{
	my ($db, $opts, $label_sql) = @_;
	$node->safe_psql('postgres', "CREATE DATABASE $db $opts");
	$node->safe_psql($db, qq{
		CREATE EXTENSION reset_system;
		CREATE TABLE t (id int);
		INSERT INTO t VALUES (1), (2), (3);
		SELECT reset_register_table('t', 'delete');
		DO \$\$ BEGIN
			EXECUTE format('ALTER DATABASE %I SET reset_system.environment = %L', '$db', $label_sql);
		END \$\$;});
	return;
}

# notified(DB, SQL): the decoded JSON payloads of reset_system received
# while running SQL (as a UTF-8 client), and psql's stderr
sub notified
{
	my ($db, $sql, %opts) = @_;
	my ($ret, $out, $err) = $node->psql($db, "SET client_encoding = 'UTF8'; LISTEN reset_system; $sql; SELECT 1;", %opts);
	my @notes = map { eval { decode_json($_) } // { invalid => $_ } }
	  $out =~ /Asynchronous notification "reset_system" with payload "(\{.*?\})" received/g;
	return (\@notes, $err);
}

my @members = qw(database environment event purge_objects reset_id role rows_deleted tables text token);

# ---- SQL_ASCII, label "caf" + byte E9 (Latin-1 e acute) ----------------
setup('ascii', q{ENCODING 'SQL_ASCII' TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'},
	q{E'caf\\xe9'});
my ($notes, $err) = notified('ascii', "SELECT reset_execute('RESET-EVERYTHING')");
is(scalar @$notes, 1, 'SQL_ASCII: a reset notifies once') or diag($err);
my $note = $notes->[0] // {};
is_deeply([ sort keys %$note ], \@members, 'SQL_ASCII: the payload has every member');
is($note->{environment}, 'caf\xE9', 'SQL_ASCII: the label, its byte that is not UTF-8 as \xNN');
like($note->{text} // '', qr/^reset_system: database "ascii" \(caf\\xE9\) was reset by /, 'SQL_ASCII: in the text too');

$node->psql('ascii', "SELECT reset_execute('wrong phrase')");
ok($node->poll_query_until('ascii',
	q{SELECT count(*) = 1 FROM reset_history() WHERE outcome = 'refused' AND environment = 'caf\xE9'}),
	'SQL_ASCII: the refusal is recorded with the label');
is($node->safe_psql('ascii', q{SELECT environment = E'caf\\xe9' FROM reset_system.history}), 't',
	'SQL_ASCII: the history has the label as it is');

# ---- LATIN1, label "café" -----------------------------------------------
setup('latin', q{ENCODING 'LATIN1' TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'},
	q{convert_from('\\x636166e9', 'LATIN1')});
($notes, $err) = notified('latin', "SELECT reset_execute('RESET-EVERYTHING')");
is(scalar @$notes, 1, 'LATIN1: a reset notifies once') or diag($err);
$note = $notes->[0] // {};
is_deeply([ sort keys %$note ], \@members, 'LATIN1: the payload has every member');
is(Encode::encode('UTF-8', $note->{environment} // ''), "caf\xc3\xa9", 'LATIN1: the label, in UTF-8 for a UTF-8 client');
$node->psql('latin', "SELECT reset_execute('wrong phrase')");
ok($node->poll_query_until('latin',
	q{SELECT count(*) = 1 FROM reset_history()
	  WHERE outcome = 'refused' AND environment = convert_from('\x636166e9', 'LATIN1')}),
	'LATIN1: the refusal is recorded with the label');
is($node->safe_psql('latin', q{SELECT count(*) FROM reset_system.attempts WHERE environment = 'unset'}), '0',
	'LATIN1: no attempt is recorded as unset');

# ---- a 5,000-character label ---------------------------------------------
setup('long', '', q{repeat('x', 5000)});
($notes, $err) = notified('long', "SELECT reset_execute('RESET-EVERYTHING')");
unlike($err, qr/payload string too long/, 'a long label: the reset does not fail');
is(scalar @$notes, 1, 'a long label: the reset notifies');
$note = $notes->[0] // {};
is($note->{environment}, ('x' x 128) . '...', 'the label is cut in the payload, with a marker');
is_deeply([ sort keys %$note ], \@members, 'and the payload has every member');
is($node->safe_psql('long', 'SELECT length(environment) FROM reset_system.history'), '5000',
	'the history has the whole label');

# ---- messages echo user input cut and escaped ------------------------------
my ($ret, $out);
($ret, $out, $err) = $node->psql('long',
	q{SELECT reset_execute('RESET-EVERYTHING', repeat('a', 1000000))});
like($err, qr/DETAIL:  The plan token given is "a{64}"\.\.\.; the plan/,
	'a huge plan token is cut after 64 characters in the error');
cmp_ok(length($err), '<', 2000, 'and the error stays short');
($ret, $out, $err) = $node->psql('long', q{SELECT reset_unlock('1 minute')});
like($err, qr/ERROR:  environment "x{64}"\.\.\. is not protected/, 'a huge label is cut in the error');
($ret, $out, $err) = $node->psql('long', q{
	SELECT set_config('reset_system.environment', E'stag\ning\x01\t"q"', false);
	SELECT reset_unlock('1 minute');});
like($err, qr/ERROR:  environment "stag\\ning\\x01\\t\\"q\\"" is not protected/,
	'control characters in a label are escaped in the error');

$node->stop;
done_testing();

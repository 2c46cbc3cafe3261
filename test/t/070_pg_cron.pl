# Scheduled resets with pg_cron (Debian's postgresql-NN-cron), the way the
# README recipe sets them up: pg_cron preloaded with its metadata in
# database postgres, a job per database made with cron.schedule_in_database,
# running SELECT reset_execute('RESET-EVERYTHING') as the application's
# owner role (granted with reset_grant_operator).
#
# Both ways pg_cron runs a job are tested, on two servers at once: through
# a libpq connection (the default) and in a background worker
# (cron.use_background_workers = on).  On each, a job in a "demo" database
# resets it: the rows are deleted and the baseline rebuilt, the files are
# purged, and reset_history() records every run of the job as a completed
# reset by the job's role, with pg_cron's application name.  A job in a
# "production" database (a protected environment) is refused: the run
# fails in cron.job_run_details with the guard's message, reset_history()
# records the refusal, and nothing is deleted, queued or purged.
#
# pg_cron 1.5 and later take a seconds schedule ('5 seconds'), which keeps
# this short; older ones (1.4 in Debian 12) only minutes, so the jobs then
# run at the next full minute and the wait is bounded by 90 seconds.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time sleep);
use ResetSystemTest;

my %modes = (
	connection => 'off',
	'background worker' => 'on',
);

# ---- two servers, each with a demo and a production database ------------------------------

my %nodes;
for my $mode (sort keys %modes)
{
	(my $name = $mode) =~ s/ /_/g;
	my $node = new_node($name);
	$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'reset_system, pg_cron'
cron.database_name = 'postgres'
cron.use_background_workers = $modes{$mode}
cron.host = '@{[ $node->host ]}'
reset_system.purge_naptime = 1s
});
	$node->start;
	my %setup = (node => $node);
	for my $db ('demo', 'prod')
	{
		my $root = $node->basedir . "/media_$db";
		setup_app($node, $db, $root, 1);
		label_db($node, $db, $db eq 'prod' ? 'production' : 'demo');
		$node->safe_psql($db, q{
			DO $$
			BEGIN
				IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'app_owner') THEN
					CREATE ROLE app_owner LOGIN;
				END IF;
			END $$;
			ALTER SCHEMA app OWNER TO app_owner;
			DO $$
			DECLARE t regclass;
			BEGIN
				FOR t IN SELECT oid FROM pg_class WHERE relnamespace = 'app'::regnamespace AND relkind = 'r' LOOP
					EXECUTE format('ALTER TABLE %s OWNER TO app_owner', t);
				END LOOP;
			END $$;
			SELECT count(*) FROM reset_grant_operator('app_owner');
		});
		$setup{$db} = {
			root => $root,
			deleted => app_keys($node, $db, 'deleted'),
			kept => [ @{ app_keys($node, $db, 'preserved') }, @{ app_keys($node, $db, 'rebuilt') } ],
			counts => $node->safe_psql($db, q{SELECT string_agg(c, ' ' ORDER BY c) FROM (
				SELECT 'submissions=' || count(*) c FROM app.submissions
				UNION ALL SELECT 'validators=' || count(*) FROM app.validators
				UNION ALL SELECT 'users=' || count(*) FROM app.users) s}),
		};
	}
	$node->safe_psql('postgres', 'CREATE EXTENSION pg_cron');
	$nodes{$mode} = \%setup;
}

# ---- the schedule: seconds when pg_cron has them ------------------------------------------

my $any = $nodes{connection}{node};
my $cron_version = $any->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'pg_cron'});
my ($ret) = $any->psql('postgres', q{SELECT cron.unschedule(cron.schedule('probe', '5 seconds', 'SELECT 1'))});
my $seconds = $ret == 0;
my $schedule = $seconds ? '5 seconds' : '* * * * *';
diag("pg_cron $cron_version: schedule '$schedule'");

my $job = q{SELECT reset_execute('RESET-EVERYTHING')};
for my $mode (sort keys %nodes)
{
	my $node = $nodes{$mode}{node};
	for my $db ('demo', 'prod')
	{
		$nodes{$mode}{$db}{jobid} = $node->safe_psql('postgres',
			qq{SELECT cron.schedule_in_database('$db-reset', '$schedule', \$\$$job\$\$, '$db', 'app_owner')});
	}
}

# wait for the first finished run of every job, then unschedule them all
my $deadline = time + ($seconds ? 60 : 90);
my $finished = q{SELECT count(DISTINCT jobid) FROM cron.job_run_details WHERE status IN ('succeeded', 'failed')};
for my $mode (sort keys %nodes)
{
	my $node = $nodes{$mode}{node};
	sleep 0.5 while $node->safe_psql('postgres', $finished) < 2 && time < $deadline;
	is($node->safe_psql('postgres', $finished), 2, "$mode: both jobs ran (schedule '$schedule')")
	  or diag $node->safe_psql('postgres', q{SELECT * FROM cron.job_run_details});
}
for my $mode (sort keys %nodes)
{
	my $node = $nodes{$mode}{node};
	$node->safe_psql('postgres', q{SELECT cron.unschedule(jobid) FROM cron.job});
	ok($node->poll_query_until('postgres',
		q{SELECT NOT EXISTS (SELECT FROM cron.job_run_details WHERE status IN ('starting', 'running', 'sending', 'connecting'))}),
		"$mode: no run is left in progress");
}

# ---- what happened ----------------------------------------------------------------------------

for my $mode (sort keys %nodes)
{
	my $node = $nodes{$mode}{node};
	my $runs = sub {
		my ($db) = @_;
		return [ split /\n/, $node->safe_psql('postgres', qq{SELECT status || ' | ' || replace(return_message, E'\n', ' / ')
			FROM cron.job_run_details WHERE jobid = $nodes{$mode}{$db}{jobid} ORDER BY runid}) ];
	};

	# the demo database: reset, rebuilt, purged, recorded
	my $demo = $nodes{$mode}{demo};
	my $dq = sub { $node->safe_psql('demo', $_[0]) };
	my $demo_runs = $runs->('demo');
	ok(@$demo_runs >= 1 && !grep({ !/^succeeded \| / } @$demo_runs),
		"$mode: every run of the demo job succeeded (" . scalar(@$demo_runs) . ' run(s))') or diag join("\n", @$demo_runs);
	is($dq->(q{SELECT count(*) FROM app.submissions}) + $dq->(q{SELECT count(*) FROM app.findings})
		+ $dq->(q{SELECT count(*) FROM app.validation_runs}), 0, "$mode: the demo rows are deleted");
	is($dq->(q{SELECT string_agg(slug, ',' ORDER BY slug) FROM app.validators}),
		'csv-shape,energyplus,fhir,json-schema,openapi,pdf-a,xml-schema', "$mode: the baseline validators are rebuilt");
	is($dq->(q{SELECT count(*) FROM app.users}), 12, "$mode: the users are kept");
	like($dq->(q{SELECT reset_purge_wait('2 minutes')}), qr/^Purged \d+ storage object\(s\)\.$/, "$mode: the purge finishes");
	is(files_present($demo->{root}, $demo->{deleted}), 0, "$mode: the files of the deleted rows are gone");
	is(files_present($demo->{root}, $demo->{kept}), scalar @{ $demo->{kept} }, "$mode: the files of kept and rebuilt rows stay");

	my $history = $dq->(q{SELECT role_name || ' | ' || outcome || ' | ' || application_name || ' | ' || rows_deleted
		FROM reset_history() ORDER BY at});
	my @completed = grep { /\| completed \|/ } split /\n/, $history;
	is(scalar @completed, scalar @$demo_runs, "$mode: reset_history() has a completed reset for every run of the job");
	like($completed[0] // '', qr/^app_owner \| completed \| pg_cron\S* \| [1-9]\d*$/,
		"$mode: recorded as a reset by the job's role, with pg_cron's application name");
	is($dq->(q{SELECT count(*) FROM reset_system.history WHERE application_name LIKE 'pg_cron%' AND role_name = 'app_owner'}),
		scalar @$demo_runs, "$mode: reset_system.history has them too");

	# the production database: refused, recorded, nothing deleted
	my $prod = $nodes{$mode}{prod};
	my $pq = sub { $node->safe_psql('prod', $_[0]) };
	my $prod_runs = $runs->('prod');
	ok(@$prod_runs >= 1 && !grep({ !/^failed \| .*environment "production" is protected and locked/ } @$prod_runs),
		"$mode: every run of the production job failed with the guard's message") or diag join("\n", @$prod_runs);
	is($pq->(q{SELECT string_agg(c, ' ' ORDER BY c) FROM (
		SELECT 'submissions=' || count(*) c FROM app.submissions
		UNION ALL SELECT 'validators=' || count(*) FROM app.validators
		UNION ALL SELECT 'users=' || count(*) FROM app.users) s}), $prod->{counts}, "$mode: nothing is deleted in production");
	is($pq->(q{SELECT count(*) FROM reset_system.purge_queue}) . ' ' . $pq->(q{SELECT count(*) FROM reset_system.history}),
		'0 0', "$mode: nothing is queued for purge, no reset is recorded");
	is(files_present($prod->{root}, $prod->{deleted}), scalar @{ $prod->{deleted} }, "$mode: every file is still there");
	my $refusals = $pq->(q{SELECT role_name || ' | ' || outcome || ' | ' || application_name || ' | ' || reason
		FROM reset_history() ORDER BY at});
	my @refused = grep { /^app_owner \| refused \| pg_cron\S* \| environment "production" is protected and locked/ } split /\n/, $refusals;
	is(scalar @refused, scalar @$prod_runs, "$mode: reset_history() records every refused run, by the job's role, with pg_cron's application name");

	# what a scheduled run looks like, for the record
	diag("$mode: cron.job_run_details: demo: $demo_runs->[0]; production: " . substr($prod_runs->[0] // '', 0, 80));
	diag("$mode: reset_history() (role | outcome | application | rows or reason): demo: "
		  . ($completed[0] // '') . '; production: ' . ($refused[0] // ''));
}

$_->{node}->stop for values %nodes;
done_testing();

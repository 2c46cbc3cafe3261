# A real Django project, on Debian's Django, django-guardian and
# django-taggit: migrated into a test cluster, filled through the ORM
# (files written through FileField), registered with the documented API
# only (the statements the plan's warnings and fixes name), reset with the
# command-line tool, and checked through Django itself: kept rows intact,
# the organizations' pointers into wiped tables set to NULL with their
# constraints intact, no object permission, tag or admin log entry left
# on a deleted object (new objects created after the reset have none),
# the migration history untouched (migrate --plan has nothing to do), a
# kept user logs in with the test client, and exactly the files of the
# deleted rows purged.
use strict;
use warnings;

use File::Path qw(make_path);
use IPC::Run ();
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use ResetSystemTest;

# Debian's Python, where Debian's Django packages are installed
my $python = '/usr/bin/python3';
{
	my ($out, $err) = ('', '');
	IPC::Run::run([ $python, '-c', 'import django, guardian, taggit, psycopg2; print(django.get_version())' ],
		'>', \$out, '2>', \$err);
	BAIL_OUT("Django, django-guardian, django-taggit or psycopg2 is not installed ($err); "
		  . 'test/run-tests.sh installs them (install_django in test/lib/common.sh)')
	  if $? != 0;
	chomp $out;
	diag("Django $out");
}

my $node = new_node('django');
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE saas');
label_db($node, 'saas', 'staging');
$node->safe_psql('saas', 'CREATE EXTENSION reset_system');
my $q = sub { $node->safe_psql('saas', $_[0]) };

# the project, in a directory of the test's own
my $project = $node->basedir . '/project';
my $media = $node->basedir . '/media';
make_path($project, $media);
system('cp', '-R', 'test/fixtures/django_project/.', $project) == 0 or die 'cannot copy the project';
my %env = (
	%ENV,
	DJANGO_SETTINGS_MODULE => 'saas.settings',
	PYTHONDONTWRITEBYTECODE => '1',
	PYTHONPATH => $project,
	RS_DB_NAME => 'saas',
	RS_DB_HOST => $node->host,
	RS_DB_PORT => $node->port,
	RS_MEDIA_ROOT => $media,
);

# django(ARGS...): run manage.py or scenario.py in the project; returns
# stdout, fails the test on a non-zero exit
sub django
{
	my @args = @_;
	my ($out, $err) = ('', '');
	my $script = $args[0] =~ /^(fill|state|verify)$/ ? 'scenario.py' : 'manage.py';
	local %ENV = %env;
	IPC::Run::run([ $python, "$project/$script", @args ], '>', \$out, '2>', \$err,
		init => sub { chdir $project }, IPC::Run::timeout(600));
	is($?, 0, "$script @args") or diag $err;
	return $out;
}

django('makemigrations', 'projects');
like(django('migrate', '--noinput'), qr/Applying projects\.0001_initial\.\.\. OK/, 'the project is migrated');
like(django('check'), qr/System check identified no issues/, 'and passes its checks');

my $before = decode_json(django('fill'));
is($before->{projects}, 30, 'filled: 30 projects');
is(scalar @{ $before->{deleted_files} }, 90, 'with 90 files of projects and documents written through FileField');
cmp_ok($before->{user_object_permissions}, '>', 100, "$before->{user_object_permissions} object permissions of users");
my @on_disk = grep { -f "$media/$_" } @{ $before->{deleted_files} }, @{ $before->{kept_files} };
is(scalar @on_disk, 93, 'every file is on disk');

# ---- registration, with the documented API ------------------------------------------------------

my @keep = qw(auth_user auth_group auth_group_permissions auth_user_groups auth_user_user_permissions
  auth_permission django_content_type django_session django_admin_log guardian_userobjectpermission
  guardian_groupobjectpermission taggit_tag taggit_taggeditem projects_organization projects_membership);
my $registered = $q->("SELECT tbl || ' ' || action || ' ' || status FROM reset_register_schema('public', ARRAY['"
	  . join("', '", @keep) . "']) ORDER BY 1");
like($registered, qr/^django_migrations preserve registered: the migration history of Django, preserved$/m,
	'reset_register_schema keeps django_migrations without being told');
$q->(q{SELECT reset_register_table('public.projects_project', 'delete', 'project', '{attachment}')});
$q->(q{SELECT reset_register_table('public.projects_document', 'delete', 'document', '{file}')});
$q->(q{SELECT reset_register_table('public.projects_organization', 'preserve', 'organization', '{logo}')});
$q->("SELECT reset_configure_storage('file', jsonb_build_object('root', '$media'))");

my $plan = decode_json($q->('SELECT reset_plan_json()'));
my @generic_calls = map { /(SELECT reset_register_generic\(.*\);)$/ ? $1 : () } @{ $plan->{warnings} };
is(scalar @generic_calls, 4, 'the plan warns about 4 generic references (object permissions of users and groups, tags, the admin log)')
  or diag explain $plan->{warnings};
my @blocked = grep { $_->{message} =~ /"public.projects_organization" has a foreign key/ } @{ $plan->{blocker_details} };
is(scalar @blocked, 2, 'the organizations\' optional pointers into wiped tables block the plan')
  or diag explain $plan->{blocker_details};
my ($nullify) = grep { /reset_register_nullify/ } @{ $blocked[0]{fixes} };
like($nullify, qr/ARRAY\['default_workflow_id', 'last_project_id'\]/, "the fix: $nullify");

# run what the plan says, word for word
$q->($_) for @generic_calls, $nullify;

# ---- the plan, with the command-line tool ----------------------------------------------------------

sub cli
{
	my @args = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'reset-system', @args, $node->connstr('saas') ], '<', \undef, '>', \$out, '2>', \$err,
		IPC::Run::timeout(600));
	return ($? >> 8, $out, $err);
}
my ($rc, $out, $err) = cli();
is($rc, 0, 'reset-system shows the plan');
diag("\n==== the plan reset-system printed for the Django project\n$out");
like($out, qr/Will SET NULL public\.projects_organization\.default_workflow_id in 3 preserved row\(s\) \(registered with reset_register_nullify\)/,
	'it sets the organizations\' default workflow to NULL');
like($out, qr/Will SET NULL public\.projects_organization\.last_project_id in 3 preserved row\(s\)/,
	'and their last project');
like($out, qr/Will DELETE \d+ preserved guardian_userobjectpermission row\(s\) that point at emptied tables/,
	'and deletes the object permissions on wiped objects');
like($out, qr/Warnings: none/, 'no warning is left');
like($out, qr/Blockers: none/, 'nothing blocks it');

# row counts of every table, before and after
sub counts
{
	my %n;
	for my $t (split /\n/, $q->(q{SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' ORDER BY 1}))
	{
		$n{$t} = $q->("SELECT count(*) FROM public.\"$t\"");
	}
	return \%n;
}
my $rows_before = counts();
my $constraints_sql = q{SELECT string_agg(conname || ' ' || pg_get_constraintdef(oid) || ' ' || convalidated || condeferrable || condeferred, E'\n' ORDER BY conname)
	FROM pg_constraint WHERE conrelid = 'public.projects_organization'::regclass AND contype = 'f'};
my $constraints_before = $q->($constraints_sql);

# ---- the reset, with the command-line tool -----------------------------------------------------------

# every table TRUNCATEd (no small-table DELETE): Django's deferrable
# foreign keys from the kept organizations are dropped and created again
{
	local $ENV{PGOPTIONS} = '-c reset_system.small_table_rows=0';
	($rc, $out, $err) = cli('--confirm', 'RESET-EVERYTHING', '--wait');
}
is($rc, 0, 'reset-system --confirm RESET-EVERYTHING --wait') or diag "$out\n$err";
like($out, qr/Set NULL public\.projects_organization\.default_workflow_id in 3 preserved row\(s\)/, 'it reports the pointers it set to NULL');
like($out, qr/Deleted \d+ preserved guardian_userobjectpermission row\(s\) that pointed at emptied tables/, 'and the permissions it deleted');
like($out, qr/System reset complete\./, 'the reset is complete');
like($out, qr/Purged 90 storage object\(s\)\./, 'and the 90 files of the deleted rows are purged');
diag("\n==== reset-system --confirm RESET-EVERYTHING --wait\n$out");

my $rows_after = counts();
diag(sprintf("\n==== rows before and after the reset\n%-36s %8s %8s\n", 'table', 'before', 'after')
	  . join('', map { sprintf("%-36s %8s %8s\n", $_, $rows_before->{$_}, $rows_after->{$_}) } sort keys %$rows_before));

# ---- checked through Django ----------------------------------------------------------------------------

my $after = decode_json(django('verify'));
for my $kept (qw(users groups organizations memberships tags content_types))
{
	is($after->{$kept}, $before->{$kept}, "kept: $kept ($before->{$kept})");
}
is($after->{$_}, 0, "wiped: $_") for qw(workflows projects documents);
is_deeply($after->{org_pointers}, [ map { [ $_, undef, undef ] } qw(acme globex initech) ],
	'every organization\'s pointers into the wiped tables are NULL');
is($q->($constraints_sql), $constraints_before, 'and their constraints are the same (name, definition, validated, deferrable)');
is($after->{new_project_id}, 1, 'ids restart: the first project created after the reset is number 1');
is_deeply($after->{users_with_perms_on_new_project}, [], 'no user has an object permission on it');
is_deeply($after->{users_allowed_to_view_new_project}, [], 'no user may view it through guardian');
is($after->{group_perms_on_new_project}, 0, 'no group has a permission on it');
is_deeply($after->{tags_on_new_project}, [], 'it carries no tag');
is($after->{admin_log_on_new_project}, 0, 'and no admin log entry');
is($after->{user_object_permissions}, 3, 'the object permissions on kept organizations remain (3)');
is_deeply($after->{kept_org_permission}, ['view_organization'], 'alice still has hers');
is($after->{tagged_items}, 0, 'no tagged item is left (every one was on a project)');
is($after->{admin_log}, 1, 'the admin log keeps its entry about a kept user');
ok($after->{login}, 'a kept user logs in with the test client');
is($after->{page_status}, 200, 'and gets the page that needs a login');
is_deeply($after->{page}, { user => 'alice', projects => ['fresh project'] }, 'showing the project created after the reset');
is($after->{anonymous_status}, 302, 'an anonymous visitor is sent to the login page');

# migrations: nothing to do, and every migration applied
like(django('migrate', '--plan'), qr/No planned migration operations\./, 'migrate --plan has nothing to do');
unlike(django('showmigrations'), qr/\[ \]/, 'showmigrations lists every migration as applied');

# files: exactly the deleted rows' files are gone
is_deeply($after->{files}, $before->{kept_files}, 'the files left are exactly the organizations\' logos');
is(scalar(grep { -e "$media/$_" } @{ $before->{deleted_files} }), 0, 'no file of a deleted project or document is left');
is($q->(q{SELECT sum(purged) || ' purged, ' || sum(failed) || ' failed, ' || sum(pending) || ' pending' FROM reset_purge_totals()}),
	'90 purged, 0 failed, 0 pending', 'the purge counted them');

done_testing();

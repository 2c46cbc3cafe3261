# meta_check.pl: META.json against the PGXN Meta Spec 1.0.0, and the
# release metadata against each other.
#
#   perl test/meta_check.pl [SOURCE_DIR]      (run by test/run-tests.sh meta)
#
# The spec's rules are written out below: the required keys and the type
# of every key it defines (Term, SemVer, version range, license shortcut,
# URI, path), with no unknown keys except the spec's x_ custom keys.  Then
# the versions must agree: META.json's version and its provided
# extension's version with default_version in reset_system.control, the
# provided file must be that version's install script, and the Debian
# changelog and CHANGELOG.md must name the same version.  In a git
# checkout, `make dist` must produce reset_system-<version>.zip holding
# every committed file under reset_system-<version>/.
use strict;
use warnings;

use JSON::PP;
use File::Temp ();
use IO::Uncompress::Unzip ();
use Test::More;

my $src = shift // '.';
chdir $src or die "cannot enter $src: $!";

sub slurp
{
	my ($file) = @_;
	open my $fh, '<', $file or die "cannot read $file: $!";
	local $/;
	return scalar <$fh>;
}

# ---- the spec's types ---------------------------------------------------------------

my $SEMVER = qr/(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)
	(?:-(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*)?
	(?:\+[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*)?/x;
my @LICENSES = qw(agpl_3 apache_1_1 apache_2_0 artistic_1 artistic_2 bsd freebsd
  gfdl_1_2 gfdl_1_3 gpl_1 gpl_2 gpl_3 lgpl_2_1 lgpl_3_0 mit mozilla_1_0
  mozilla_1_1 openssl perl_5 postgresql qpl_1_0 ssleay sun zlib open_source
  restricted unrestricted unknown);

sub is_string { my ($v) = @_; return defined $v && !ref $v && !JSON::PP::is_bool($v) && length $v }
sub is_object { return ref $_[0] eq 'HASH' }
sub is_array  { return ref $_[0] eq 'ARRAY' }
sub is_term   { return is_string($_[0]) && $_[0] =~ /^[^\/\\\s[:cntrl:]]{2,}$/ }
sub is_semver { return is_string($_[0]) && $_[0] =~ /^$SEMVER$/ }
sub is_uri    { return is_string($_[0]) && $_[0] =~ m{^[a-zA-Z][a-zA-Z0-9+.-]*:\S+$} }
sub is_email  { return is_string($_[0]) && $_[0] =~ /^[^\s@]+@[^\s@]+$/ }
sub is_path   { return is_string($_[0]) && length $_[0] >= 2 && $_[0] !~ m{^/|\\|(^|/)\.\.(/|$)} }
sub is_custom { return $_[0] =~ /^[xX]_./ }

sub is_version_range
{
	my ($v) = @_;
	return 1 if defined $v && !ref $v && $v =~ /^0$/;
	return 0 unless is_string($v);
	my $one = qr/(?:(?:[=!]=|[<>]=?)\s*)?$SEMVER/;
	return $v =~ /^(?:$one|0)(?:,\s*$one)*$/;
}

# Every problem found, as "key: what is wrong".
my @problems;
sub problem { push @problems, join('', @_); return }

# check_keys(WHERE, OBJECT, \%ALLOWED, @REQUIRED): no unknown keys (except
# custom x_ keys), the required ones present.
sub check_keys
{
	my ($where, $obj, $allowed, @required) = @_;
	for my $k (sort keys %$obj)
	{
		problem("$where: unknown key \"$k\" (custom keys start with x_)")
		  unless exists $allowed->{$k} || is_custom($k);
	}
	for my $k (@required)
	{
		problem("$where: required key \"$k\" is missing") unless exists $obj->{$k};
	}
	return;
}

sub check_meta
{
	my ($m) = @_;
	return problem('META.json: the top level must be an object') unless is_object($m);
	my %top = map { $_ => 1 } qw(name version abstract maintainer license provides
	  meta-spec description generated_by tags no_index prereqs release_status resources);
	check_keys('META.json', $m, \%top,
		qw(name version abstract maintainer license provides meta-spec));

	problem('name: must be a Term (two or more characters, no slash, backslash, space or control character)')
	  if exists $m->{name} && !is_term($m->{name});
	problem("version: must be a semantic version (MAJOR.MINOR.PATCH), not \"" . ($m->{version} // 'null') . '"')
	  if exists $m->{version} && !is_semver($m->{version});
	for my $k (qw(abstract description generated_by))
	{
		problem("$k: must be a non-empty string") if exists $m->{$k} && !is_string($m->{$k});
	}

	if (exists $m->{maintainer})
	{
		my $v = $m->{maintainer};
		problem('maintainer: must be a non-empty string or a non-empty array of them')
		  unless is_string($v) || (is_array($v) && @$v && !grep { !is_string($_) } @$v);
	}

	if (exists $m->{license})
	{
		my $v = $m->{license};
		my %known = map { $_ => 1 } @LICENSES;
		my $ok = (is_string($v) && $known{$v})
		  || (is_array($v) && @$v && !grep { !(is_string($_) && $known{$_}) } @$v)
		  || (is_object($v) && %$v && !grep { !is_uri($_) } values %$v);
		problem('license: must be a known license shortcut ("postgresql", ...), an array of them, or an object of names to URIs')
		  unless $ok;
	}

	if (exists $m->{'meta-spec'})
	{
		my $v = $m->{'meta-spec'};
		if (!is_object($v)) { problem('meta-spec: must be an object') }
		else
		{
			check_keys('meta-spec', $v, { version => 1, url => 1 }, 'version');
			problem('meta-spec.version: must be 1.0.x')
			  if exists $v->{version} && !(is_string($v->{version}) && $v->{version} =~ /^1\.0\.\d+$/);
			problem('meta-spec.url: must be the spec\'s own URL')
			  if exists $v->{url} && !(is_string($v->{url}) && $v->{url} =~ m{^https?://pgxn\.org/meta/spec\.txt$});
		}
	}

	if (exists $m->{provides})
	{
		my $v = $m->{provides};
		if (!(is_object($v) && %$v)) { problem('provides: must be an object naming at least one extension') }
		else
		{
			for my $ext (sort keys %$v)
			{
				problem("provides: \"$ext\" is not a Term") unless is_term($ext);
				my $e = $v->{$ext};
				if (!is_object($e)) { problem("provides.$ext: must be an object"); next }
				check_keys("provides.$ext", $e, { map { $_ => 1 } qw(file version abstract docfile docpath) },
					qw(file version));
				problem("provides.$ext.version: must be a semantic version")
				  if exists $e->{version} && !is_semver($e->{version});
				for my $k (qw(file docfile))
				{
					problem("provides.$ext.$k: must be a relative path in unix form")
					  if exists $e->{$k} && !is_path($e->{$k});
				}
				problem("provides.$ext.abstract: must be a non-empty string")
				  if exists $e->{abstract} && !is_string($e->{abstract});
			}
		}
	}

	if (exists $m->{tags})
	{
		my $v = $m->{tags};
		problem('tags: must be a non-empty array of strings of 2 to 255 characters without slash, backslash or control characters')
		  unless is_array($v) && @$v
		  && !grep { !(is_string($_) && length($_) >= 2 && length($_) <= 255 && !/[\/\\[:cntrl:]]/) } @$v;
	}

	if (exists $m->{no_index})
	{
		my $v = $m->{no_index};
		if (!is_object($v)) { problem('no_index: must be an object') }
		else
		{
			check_keys('no_index', $v, { file => 1, directory => 1 });
			problem('no_index: needs "file" or "directory"') unless exists $v->{file} || exists $v->{directory};
			for my $k (grep { exists $v->{$_} } qw(file directory))
			{
				my $l = $v->{$k};
				problem("no_index.$k: must be a path or a non-empty array of paths")
				  unless is_path($l) || (is_array($l) && @$l && !grep { !is_path($_) } @$l);
			}
		}
	}

	if (exists $m->{prereqs})
	{
		my $v = $m->{prereqs};
		my %phases = map { $_ => 1 } qw(configure build test runtime develop);
		my %relations = map { $_ => 1 } qw(requires recommends suggests conflicts);
		if (!(is_object($v) && %$v)) { problem('prereqs: must be a non-empty object') }
		else
		{
			check_keys('prereqs', $v, \%phases);
			for my $phase (grep { $phases{$_} } sort keys %$v)
			{
				my $p = $v->{$phase};
				if (!(is_object($p) && %$p)) { problem("prereqs.$phase: must be a non-empty object"); next }
				check_keys("prereqs.$phase", $p, \%relations);
				for my $rel (grep { $relations{$_} } sort keys %$p)
				{
					my $r = $p->{$rel};
					if (!(is_object($r) && %$r)) { problem("prereqs.$phase.$rel: must be a non-empty object"); next }
					for my $name (sort keys %$r)
					{
						problem("prereqs.$phase.$rel: \"$name\" is not a Term") unless is_term($name);
						problem("prereqs.$phase.$rel.$name: must be a version range (\"15.0.0\", \">= 15.0.0, < 19.0.0\" or 0)")
						  unless is_version_range($r->{$name});
					}
				}
			}
		}
	}

	problem('release_status: must be stable, testing or unstable')
	  if exists $m->{release_status}
	  && !(is_string($m->{release_status}) && $m->{release_status} =~ /^(stable|testing|unstable)$/);

	if (exists $m->{resources})
	{
		my $v = $m->{resources};
		if (!(is_object($v) && %$v)) { problem('resources: must be a non-empty object') }
		else
		{
			check_keys('resources', $v, { homepage => 1, bugtracker => 1, repository => 1 });
			problem('resources.homepage: must be a URI') if exists $v->{homepage} && !is_uri($v->{homepage});
			if (exists $v->{bugtracker})
			{
				my $b = $v->{bugtracker};
				if (!is_object($b)) { problem('resources.bugtracker: must be an object') }
				else
				{
					check_keys('resources.bugtracker', $b, { web => 1, mailto => 1 });
					problem('resources.bugtracker: needs "web" or "mailto"') unless exists $b->{web} || exists $b->{mailto};
					problem('resources.bugtracker.web: must be a URI') if exists $b->{web} && !is_uri($b->{web});
					problem('resources.bugtracker.mailto: must be an email address')
					  if exists $b->{mailto} && !is_email($b->{mailto});
				}
			}
			if (exists $v->{repository})
			{
				my $r = $v->{repository};
				if (!is_object($r)) { problem('resources.repository: must be an object') }
				else
				{
					check_keys('resources.repository', $r, { url => 1, web => 1, type => 1 });
					problem('resources.repository: needs "web", or "url" with "type"')
					  unless exists $r->{web} || (exists $r->{url} && exists $r->{type});
					for my $k (qw(url web))
					{
						problem("resources.repository.$k: must be a URI") if exists $r->{$k} && !is_uri($r->{$k});
					}
					problem('resources.repository.type: must be a lowercase string (git, ...)')
					  if exists $r->{type} && !(is_string($r->{type}) && $r->{type} =~ /^[a-z]+$/);
				}
			}
		}
	}
	return;
}

# ---- the checker rejects what the spec rejects ------------------------------------------

my $text = slurp('META.json');
my $meta = eval { JSON::PP->new->decode($text) };
ok($meta, 'META.json is valid JSON') or diag $@;
$meta //= {};

my %broken = (
	'a document without a required key' => sub { delete $_[0]{maintainer} },
	'a two-part version' => sub { $_[0]{version} = '1.1' },
	'an unknown top-level key' => sub { $_[0]{homepage} = 'x' },
	'an unknown license shortcut' => sub { $_[0]{license} = 'PostgreSQL' },
	'a provided extension without a file' => sub { delete $_[0]{provides}{(keys %{ $_[0]{provides} })[0]}{file} },
	'a prereq that is not a version range' => sub { $_[0]{prereqs} = { runtime => { requires => { PostgreSQL => '15' } } } },
	'meta-spec 2' => sub { $_[0]{'meta-spec'}{version} = '2.0.0' },
	'a tag with a slash' => sub { $_[0]{tags} = ['a/b'] },
);
for my $case (sort keys %broken)
{
	my $copy = JSON::PP->new->decode($text);
	$broken{$case}->($copy);
	@problems = ();
	check_meta($copy);
	ok(@problems > 0, "the checker rejects $case") or diag 'accepted: ' . JSON::PP->new->canonical->encode($copy);
}

# ---- META.json itself ------------------------------------------------------------------------

@problems = ();
check_meta($meta);
is_deeply(\@problems, [], 'META.json follows the PGXN Meta Spec 1.0.0: required keys, types, no unknown keys')
  or diag join("\n", @problems);

# ---- the versions agree ---------------------------------------------------------------------------

my $control = slurp('reset_system.control');
my ($default) = $control =~ /^\s*default_version\s*=\s*'([^']+)'/m;
ok(defined $default, "reset_system.control has a default_version ($default)");
(my $semver = $default) =~ s/^(\d+\.\d+)$/$1.0/;
like($control, qr/PostgreSQL License/, 'the control file names the license');

is($meta->{name}, 'reset_system', 'the distribution is named after the extension');
is($meta->{version}, $semver, "META.json's version is default_version $default as a semantic version");
my $provided = $meta->{provides}{reset_system} // {};
is($provided->{version}, $semver, 'so is the version of the provided extension');
is($provided->{file}, "reset_system--$default.sql", "the provided file is the install script of $default");
ok(-f $provided->{file}, "$provided->{file} exists") if $provided->{file};
ok(-f $provided->{docfile}, "the docfile $provided->{docfile} exists") if $provided->{docfile};
is($meta->{license}, 'postgresql', 'the license is the PostgreSQL License');
like(slurp('LICENSE'), qr/\APostgreSQL License\n\nCopyright \(c\) \d{4}(-\d{4})?, The reset_system authors\n/,
	'LICENSE holds it, with its copyright holder');
like($meta->{prereqs}{runtime}{requires}{PostgreSQL} // '', qr/^15\.0\.0/, 'PostgreSQL 15 or later is required');

my $changelog = slurp('CHANGELOG.md');
my ($heading) = $changelog =~ /^## (\Q$default\E\b.*)$/m;
ok(defined $heading, "CHANGELOG.md has a section for $default");
if (defined $heading && $heading =~ /unreleased/i)
{
	isnt($meta->{release_status} // 'stable', 'stable', "an unreleased $default is not released to PGXN as stable");
}
my ($debian) = slurp('debian/changelog') =~ /^\S+ \(([^)]+)\)/;
(my $upstream = $debian) =~ s/-[^-]+$//;
is($upstream, $semver, "debian/changelog packages $semver ($debian)");

# ---- make dist ---------------------------------------------------------------------------------------

SKIP:
{
	# the dist is made from the committed tree, so it needs the git checkout
	my $in_git = system('git rev-parse --is-inside-work-tree >/dev/null 2>&1') == 0;
	skip 'make dist: not a git checkout (it archives the committed tree)', 4 unless $in_git;
	my $dir = File::Temp->newdir;
	my $zip = "$dir/reset_system-$meta->{version}.zip";
	my $out = `make -s dist DIST_DIR=$dir 2>&1`;
	is($?, 0, 'make dist runs') or diag $out;
	ok(-f $zip, "and writes reset_system-$meta->{version}.zip");
	my @entries;
	if (my $u = IO::Uncompress::Unzip->new($zip))
	{
		do { push @entries, $u->getHeaderInfo->{Name} } while $u->nextStream > 0;
	}
	my @tracked = map { "reset_system-$meta->{version}/$_" } split /\n/, `git ls-tree -r --name-only HEAD`;
	is_deeply([ sort grep { !m{/$} } @entries ], [ sort @tracked ],
		"it holds every committed file, under reset_system-$meta->{version}/");
	ok((grep { $_ eq "reset_system-$meta->{version}/META.json" } @entries), 'META.json at the top of it');
}

done_testing();

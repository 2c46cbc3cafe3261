# StorageServers.pm: storage servers on 127.0.0.1 for the integration
# tests of the cloud backends.
#
#   nginx with its WebDAV module (a real server), run as an ordinary
#   process with its own configuration, prefix and loopback port;
#   helper servers written in Python (the GCS and S3 test doubles, the S3
#   signature-verifying proxy) that print "READY <port>" once listening;
#   s3rver (a real S3-compatible server from the npm registry) when it can
#   be installed;
#   Azurite (Microsoft's Azure Storage emulator, from the npm registry), over
#   https with its OAuth checks, behind test/lib/azure_proxy.py;
#   a "black hole": a port that accepts connections and never answers.
package StorageServers;

use strict;
use warnings;

use Cwd ();
use File::Path ();
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use POSIX ();
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes ();

use Exporter 'import';
our @EXPORT = qw(start_nginx nginx_faults nginx_stop nginx_start nginx_requests
  start_helper stop_helper control blackhole python3 find_s3rver start_s3rver
  free_tcp_port start_azurite);

my $json = JSON::PP->new->canonical;

# every server process started here, ended when the test ends however it ends
my %children;
END
{
	kill 'TERM', keys %children;
}

# python3: the system interpreter (it has Debian's botocore).
sub python3 { return -x '/usr/bin/python3' ? '/usr/bin/python3' : 'python3' }

# free_tcp_port: a loopback port nobody listens on.
sub free_tcp_port
{
	my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
		Listen => 1, ReuseAddr => 1) or die "no free port: $!";
	my $port = $s->sockport;
	close $s;
	return $port;
}

# ---- nginx -------------------------------------------------------------

# write_nginx_conf(SRV): the configuration, with SRV's fault snippet.
#   /dav/   WebDAV with a JSON directory index (listing works)
#   /flat/  WebDAV without any index (a server that cannot list)
#   /auth/  WebDAV that wants "Authorization: <SRV->{auth}>"
# Fault snippets are regex locations, which nginx tries before the prefix
# locations above.
sub write_nginx_conf
{
	my ($srv) = @_;
	my $p = $srv->{prefix};
	my $auth = $srv->{auth} // 'none';
	my $dav = q{dav_methods PUT DELETE MKCOL COPY MOVE;
			create_full_put_path on;
			dav_access user:rw group:r all:r;
			client_max_body_size 100m;};
	open my $fh, '>', "$p/nginx.conf" or die $!;
	print $fh <<"EOF";
daemon off;
worker_processes 1;
pid $p/nginx.pid;
error_log $p/error.log info;
events { worker_connections 1024; }
http {
	log_format rs '\$request_method \$uri \$status';
	access_log $p/access.log rs;
	client_body_temp_path $p/tmp/body;
	proxy_temp_path $p/tmp/proxy;
	fastcgi_temp_path $p/tmp/fastcgi;
	uwsgi_temp_path $p/tmp/uwsgi;
	scgi_temp_path $p/tmp/scgi;
	keepalive_requests 100000;
	server {
		listen 127.0.0.1:$srv->{port};
		root $p/www;
		$srv->{faults}
		location /dav/ {
			$dav
			autoindex on;
			autoindex_format json;
		}
		location /flat/ {
			$dav
		}
		location /auth/ {
			if (\$http_authorization != "$auth") { return 401; }
			$dav
			autoindex on;
			autoindex_format json;
		}
	}
}
EOF
	close $fh;
	return;
}

# start_nginx(DIR, %opts): nginx serving DIR/www on a free port.  Options:
#   auth => 'Bearer ...'   the Authorization value /auth/ wants
#   faults => '...'        an initial fault snippet
# Returns a hash: port, prefix, www, url (of /dav/), pid.
sub start_nginx
{
	my ($dir, %opts) = @_;
	my $srv = { prefix => $dir, www => "$dir/www", port => free_tcp_port(),
		auth => $opts{auth}, faults => $opts{faults} // '' };
	File::Path::make_path("$dir/tmp", map { "$dir/www/$_" } qw(dav flat auth));
	$srv->{url} = "http://127.0.0.1:$srv->{port}/dav/";
	write_nginx_conf($srv);
	nginx_start($srv);
	return $srv;
}

# nginx_start(SRV): start (again) and wait until it answers.
sub nginx_start
{
	my ($srv) = @_;
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		open STDOUT, '>>', "$srv->{prefix}/stdout.log";
		open STDERR, '>>', "$srv->{prefix}/stdout.log";
		exec('/usr/sbin/nginx', '-p', $srv->{prefix}, '-c', "$srv->{prefix}/nginx.conf",
			'-e', "$srv->{prefix}/error.log")
		  or POSIX::_exit(127);
	}
	$srv->{pid} = $pid;
	$children{$pid} = 1;
	for (1 .. 100)
	{
		my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $srv->{port});
		return if $s;
		Time::HiRes::sleep(0.05);
	}
	die "nginx did not start: " . slurp_file("$srv->{prefix}/error.log");
}

# nginx_faults(SRV, SNIPPET): replace the fault snippet and reload.
sub nginx_faults
{
	my ($srv, $snippet) = @_;
	$srv->{faults} = $snippet // '';
	write_nginx_conf($srv);
	my $out = `/usr/sbin/nginx -t -p $srv->{prefix} -c $srv->{prefix}/nginx.conf -e $srv->{prefix}/error.log 2>&1`;
	die "bad nginx configuration: $out" if $?;
	kill 'HUP', $srv->{pid};
	# a reload starts new workers; wait until the new configuration serves
	Time::HiRes::sleep(0.5);
	return;
}

# nginx_stop(SRV): stop it (quickly) and wait.
sub nginx_stop
{
	my ($srv) = @_;
	return unless $srv->{pid};
	kill 'TERM', $srv->{pid};
	waitpid($srv->{pid}, 0);
	delete $children{ $srv->{pid} };
	delete $srv->{pid};
	return;
}

# nginx_requests(SRV, METHOD, URI_REGEX): how many requests the access log
# holds for that method and URI pattern, and their statuses.
sub nginx_requests
{
	my ($srv, $method, $re) = @_;
	my (%status, $n);
	return (0, {}) unless -e "$srv->{prefix}/access.log";
	open my $fh, '<', "$srv->{prefix}/access.log" or die $!;
	while (my $line = <$fh>)
	{
		my ($m, $uri, $st) = split / /, $line;
		next unless $m eq $method && $uri =~ $re;
		chomp $st;
		$n++;
		$status{$st}++;
	}
	return ($n // 0, \%status);
}

# ---- helper servers (Python) ----------------------------------------------

# start_helper(NAME, CMD...): run a helper server that prints
# "READY <port>"; returns { pid, port, fh }.
sub start_helper
{
	my ($name, @cmd) = @_;
	my $pid = open(my $fh, '-|', @cmd) // die "cannot run $cmd[0]: $!";
	$children{$pid} = 1;
	my $line;
	eval {
		local $SIG{ALRM} = sub { die "timeout\n" };
		alarm 30;
		$line = <$fh>;
		alarm 0;
	};
	alarm 0;
	die "$name did not start" unless defined $line && $line =~ /^READY (\d+)/;
	note "$name listening on 127.0.0.1:$1";
	return { name => $name, pid => $pid, port => $1, fh => $fh };
}

# stop_helper(H): end a helper server.
sub stop_helper
{
	my ($h) = @_;
	return unless $h && $h->{pid};
	kill 'TERM', $h->{pid};
	close $h->{fh};
	delete $children{ $h->{pid} };
	delete $h->{pid};
	return;
}

# control(H, METHOD, PATH, BODY): a JSON request to a helper's control
# API; returns the decoded answer.
sub control
{
	my ($h, $method, $path, $body) = @_;
	my $res = HTTP::Tiny->new(timeout => 30)->request($method, "http://127.0.0.1:$h->{port}$path",
		{ headers => { 'content-type' => 'application/json' },
		  defined $body ? (content => $json->encode($body)) : () });
	die "control $method $path: $res->{status} $res->{content}" unless $res->{success};
	return length($res->{content}) ? decode_json($res->{content}) : undef;
}

# ---- s3rver ---------------------------------------------------------------

# find_s3rver(CACHE_DIR): the s3rver executable, installed from the npm
# registry into CACHE_DIR if need be; undef when that is impossible here
# (no npm, or no registry).
sub find_s3rver
{
	my ($cache) = @_;
	my $bin = "$cache/node_modules/.bin/s3rver";
	return $bin if -x $bin;
	return undef unless system('sh', '-c', 'command -v npm >/dev/null 2>&1') == 0;
	File::Path::make_path($cache);
	system('sh', '-c', "cd '$cache' && timeout 180 npm install --no-audit --no-fund --loglevel=error s3rver\@3.7.1 >npm.log 2>&1");
	return -x $bin ? $bin : undef;
}

# start_s3rver(BIN, DIR): s3rver on a free port, with bucket "uploads".
sub start_s3rver
{
	my ($bin, $dir) = @_;
	my $port = free_tcp_port();
	File::Path::make_path("$dir/data");
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		# s3rver's list pagination needs OpenSSL's legacy MD5 provider on Node 17+
		$ENV{NODE_OPTIONS} = '--openssl-legacy-provider';
		open STDOUT, '>>', "$dir/s3rver.log";
		open STDERR, '>>', "$dir/s3rver.log";
		exec($bin, '-d', "$dir/data", '-a', '127.0.0.1', '-p', $port,
			'--configure-bucket', 'uploads', '--silent')
		  or POSIX::_exit(127);
	}
	$children{$pid} = 1;
	for (1 .. 200)
	{
		my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port);
		return { pid => $pid, port => $port, name => 's3rver' } if $s;
		Time::HiRes::sleep(0.05);
	}
	die "s3rver did not start: " . slurp_file("$dir/s3rver.log");
}

# ---- Azurite --------------------------------------------------------------

# start_azurite(BIN, DIR, ACCOUNT, KEY): Azurite's blob service on a free
# port with one storage account (ACCOUNT, base64 KEY), in memory, over
# https with a self-signed certificate made here (Azurite accepts bearer
# tokens only over https) and with its basic OAuth checks on.  Returns
# { pid, port, url }.
sub start_azurite
{
	my ($bin, $dir, $account, $key) = @_;
	my $port = free_tcp_port();
	File::Path::make_path($dir);
	system('openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
		'-subj', '/CN=127.0.0.1', '-keyout', "$dir/key.pem", '-out', "$dir/cert.pem",
		'-addext', 'subjectAltName=IP:127.0.0.1') == 0
	  or die 'openssl could not make a certificate for Azurite';
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		$ENV{AZURITE_ACCOUNTS} = "$account:$key";
		open STDOUT, '>>', "$dir/azurite.log";
		open STDERR, '>>', "$dir/azurite.log";
		exec($bin, '--blobHost', '127.0.0.1', '--blobPort', $port, '--inMemoryPersistence',
			'--disableTelemetry', '--skipApiVersionCheck', '--cert', "$dir/cert.pem",
			'--key', "$dir/key.pem", '--oauth', 'basic')
		  or POSIX::_exit(127);
	}
	$children{$pid} = 1;
	for (1 .. 300)
	{
		my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port);
		return { pid => $pid, port => $port, name => 'azurite', url => "https://127.0.0.1:$port" } if $s;
		Time::HiRes::sleep(0.05);
	}
	die "azurite did not start: " . slurp_file("$dir/azurite.log");
}

# ---- black hole -----------------------------------------------------------

# blackhole(): a listening socket that never accepts: connections complete
# (the kernel's backlog) and requests are never answered.  Keep the
# returned socket alive as long as needed; its port is ->sockport.
sub blackhole
{
	return IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
		Listen => 128, ReuseAddr => 1) // die "blackhole: $!";
}

1;

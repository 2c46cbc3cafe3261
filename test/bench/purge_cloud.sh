#!/usr/bin/env bash
# purge_cloud.sh: purge throughput of the s3 and http backends against the
# tools people use instead, on the same loopback servers in the same run.
#
#   bash test/bench/purge_cloud.sh [OBJECTS (default 20000)]
#
# S3: s3rver 3.7.1 (from the npm registry).  reset_system's s3 backend vs
# `rclone delete` (16 checkers, 16 transfers) and `aws s3 rm --recursive`
# (16 concurrent requests).  HTTP: nginx with WebDAV (and the dav-ext
# module, which rclone needs to list).  reset_system's http backend vs
# `rclone delete` over WebDAV.  Every tool gets a freshly seeded identical
# set of OBJECTS objects (see seed_objects.py) and must leave none behind.
# reset_system is timed from the reset's commit to the end of its purge
# (reset_system.history); the worker's private memory (RssAnon) and peak
# resident size (VmHWM) are sampled while it runs.

source "$(dirname "$0")/../lib/common.sh"

N=${1:-20000}

install_packages nginx libnginx-mod-http-dav-ext rclone awscli python3
install_s3rver
[ -n "$S3RVER_BIN" ] || die "this benchmark needs s3rver from the npm registry"
WORK=$(make_workdir bench-cloud)
build_and_install "$WORK"
CL=$WORK/cluster
start_cluster "$CL" "$(free_port)" "log_min_messages = warning"

S3DIR=$WORK/s3
NGDIR=$WORK/nginx
cleanup() {
    stop_cluster "$CL"
    pkill -f -- "-d $S3DIR" 2>/dev/null || true
    [ -f "$NGDIR/nginx.pid" ] && kill "$(cat "$NGDIR/nginx.pid")" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
psqlq() { run_pg env PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 "$@"; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }

# ---- servers ------------------------------------------------------------
S3PORT=$(free_port)
run_pg mkdir -p "$S3DIR"
run_pg env NODE_OPTIONS=--openssl-legacy-provider "$S3RVER_BIN" -d "$S3DIR" -a 127.0.0.1 \
    -p "$S3PORT" --silent --configure-bucket uploads >"$WORK/s3rver.log" 2>&1 &
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$S3PORT") 2>/dev/null && break; sleep 0.1; done

NGPORT=$(free_port)
run_pg mkdir -p "$NGDIR/www/dav" "$NGDIR/tmp"
run_pg tee "$NGDIR/nginx.conf" >/dev/null <<CONF
load_module /usr/lib/nginx/modules/ngx_http_dav_ext_module.so;
worker_processes 2;
pid $NGDIR/nginx.pid;
error_log $NGDIR/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $NGDIR/tmp/body;
    proxy_temp_path $NGDIR/tmp/proxy;
    fastcgi_temp_path $NGDIR/tmp/fastcgi;
    uwsgi_temp_path $NGDIR/tmp/uwsgi;
    scgi_temp_path $NGDIR/tmp/scgi;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$NGPORT;
        root $NGDIR/www;
        location /dav/ {
            dav_methods PUT DELETE MKCOL COPY MOVE;
            dav_ext_methods PROPFIND OPTIONS;
            create_full_put_path on;
            autoindex on;
            autoindex_format json;
        }
    }
}
CONF
run_pg /usr/sbin/nginx -p "$NGDIR" -c "$NGDIR/nginx.conf" -e "$NGDIR/error.log"

# ---- helpers --------------------------------------------------------------
# seed LAYOUT ROOT: a fresh set of N objects; the keys go to $WORK/keys
seed() {
    run_pg rm -rf "$2/bench"
    run_pg /usr/bin/python3 "$WORK/test/bench/seed_objects.py" "$1" "$2" "$N" >"$WORK/keys"
    run_pg sync
}
# left LAYOUT ROOT: objects of the set still there (keepers not counted)
left() {
    local suffix=
    [ "$1" = s3rver ] && suffix=._S3rver_object
    run_pg find "$2/bench" -type f -name "o*.bin$suffix" | wc -l
}
# rs_purge BACKEND OPTIONS: reset a table holding the keys, wait for the
# purge; prints "seconds peak_rss_anon_kb peak_hwm_kb"
rs_purge() {
    local db="bench_$1_$RANDOM"
    psqlq -d postgres -c "CREATE DATABASE $db" -c "ALTER DATABASE $db SET reset_system.environment = 'benchmark'"
    psqlq -d "$db" -o /dev/null <<SQL
CREATE TABLE media (id serial PRIMARY KEY, file_key text);
\\copy media (file_key) FROM '$WORK/keys'
CREATE EXTENSION reset_system;
SELECT reset_register_table('media', 'delete', 'media file', '{file_key}');
SELECT reset_configure_storage('$1', '$2');
SQL
    psqlq -d "$db" -At -c "SELECT reset_execute('RESET-EVERYTHING')" >/dev/null
    local anon=0 hwm=0 pid v
    while :; do
        pid=$(psqlq -d "$db" -At -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'reset_system purge worker' AND datname = '$db'")
        [ -z "$pid" ] && break
        v=$(awk '/^RssAnon:/ {print $2}' /proc/"$pid"/status 2>/dev/null || echo 0)
        [ "${v:-0}" -gt "$anon" ] && anon=$v
        v=$(awk '/^VmHWM:/ {print $2}' /proc/"$pid"/status 2>/dev/null || echo 0)
        [ "${v:-0}" -gt "$hwm" ] && hwm=$v
        sleep 0.1
    done
    psqlq -d "$db" -At -c "SELECT reset_purge_wait('1 hour')" >/dev/null
    psqlq -d "$db" -At -c "SELECT round(extract(epoch FROM purge_finished_at - finished_at)::numeric, 2) || ' $anon $hwm'
                           FROM reset_system.history"
}
# timed CMD...: run a peer tool, print its seconds
timed() {
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >"$WORK/peer.log" 2>&1 || { cat "$WORK/peer.log"; die "$1 failed"; }
    t1=$(date +%s.%N)
    secs "$t0" "$t1"
}
check_empty() {
    local n
    n=$(left "$1" "$2")
    [ "$n" = 0 ] || die "$3 left $n object(s) behind"
}

# the server reads the S3 credentials from a file (s3rver checks the key id only)
run_pg tee "$WORK/aws-credentials" >/dev/null <<CRED
[default]
aws_access_key_id = S3RVER
aws_secret_access_key = S3RVER
CRED
run_pg chmod 600 "$WORK/aws-credentials"
psqlq -d postgres -c "LOAD 'reset_system'" -c "ALTER SYSTEM SET reset_system.s3_credentials_file = '$WORK/aws-credentials'" \
    -c "SELECT pg_reload_conf()" >/dev/null
cat >"$WORK/aws-config" <<CONF
[default]
s3 =
    max_concurrent_requests = 16
CONF
S3OPTS="{\"bucket\": \"uploads\", \"endpoint\": \"http://127.0.0.1:$S3PORT\", \"path_style\": true}"
RCLONE_S3=":s3,provider=Other,endpoint='http://127.0.0.1:$S3PORT',access_key_id=S3RVER,secret_access_key=S3RVER,region=us-east-1:uploads/bench/"

# ---- S3 -------------------------------------------------------------------
say "S3: reset_system, $N objects"
seed s3rver "$S3DIR/uploads"
read -r s3_rs s3_anon s3_hwm < <(rs_purge s3 "$S3OPTS")
check_empty s3rver "$S3DIR/uploads" reset_system

say "S3: rclone delete --checkers 16"
seed s3rver "$S3DIR/uploads"
s3_rclone=$(timed env -u AWS_CA_BUNDLE rclone delete --config /dev/null --checkers 16 --transfers 16 \
    --exclude "*/keep" "$RCLONE_S3")
check_empty s3rver "$S3DIR/uploads" rclone

say "S3: aws s3 rm --recursive"
seed s3rver "$S3DIR/uploads"
s3_aws=$(timed env -u AWS_CA_BUNDLE AWS_CONFIG_FILE="$WORK/aws-config" AWS_SHARED_CREDENTIALS_FILE=/dev/null \
    AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1 \
    /usr/bin/aws s3 rm s3://uploads/bench/ --recursive --exclude "*/keep" \
    --endpoint-url "http://127.0.0.1:$S3PORT" --only-show-errors)
check_empty s3rver "$S3DIR/uploads" "aws s3 rm"

# ---- HTTP / WebDAV ----------------------------------------------------------
say "HTTP: reset_system, $N objects"
seed plain "$NGDIR/www/dav"
read -r dav_rs dav_anon dav_hwm < <(rs_purge http "{\"base_url\": \"http://127.0.0.1:$NGPORT/dav/\"}")
check_empty plain "$NGDIR/www/dav" reset_system

say "HTTP: rclone delete over WebDAV"
seed plain "$NGDIR/www/dav"
dav_rclone=$(timed rclone delete --config /dev/null --checkers 16 --transfers 16 --exclude "*/keep" \
    ":webdav,url='http://127.0.0.1:$NGPORT/dav/':bench/")
check_empty plain "$NGDIR/www/dav" rclone

best_s3=$(awk -v a="$s3_rclone" -v b="$s3_aws" 'BEGIN { print (a < b ? a : b) }')
cat <<REPORT

purge_cloud: $N objects on loopback servers, PostgreSQL $PGVER, $(nproc) cores, $(date -u +%F)
S3 (s3rver 3.7.1)
  reset_system s3 backend             ${s3_rs} s   $(rate "$N" "$s3_rs") objects/s
  rclone delete --checkers 16         ${s3_rclone} s   $(rate "$N" "$s3_rclone") objects/s
  aws s3 rm --recursive (16 at once)  ${s3_aws} s   $(rate "$N" "$s3_aws") objects/s
  ratio vs the faster peer            $(awk -v a="$best_s3" -v b="$s3_rs" 'BEGIN { printf "%.1f", a / b }')x (target: at least 4x)
HTTP (nginx WebDAV)
  reset_system http backend           ${dav_rs} s   $(rate "$N" "$dav_rs") objects/s
  rclone delete (webdav)              ${dav_rclone} s   $(rate "$N" "$dav_rclone") objects/s
  ratio                               $(awk -v a="$dav_rclone" -v b="$dav_rs" 'BEGIN { printf "%.1f", a / b }')x (target: at least 1x)
purge worker memory (peak private RssAnon / peak resident VmHWM)
  s3 purge     ${s3_anon} kB / ${s3_hwm} kB
  http purge   ${dav_anon} kB / ${dav_hwm} kB
REPORT

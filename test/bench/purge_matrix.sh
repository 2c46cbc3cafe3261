#!/usr/bin/env bash
# purge_matrix.sh: purge throughput of every storage backend against the
# tools people use instead, on the same servers on 127.0.0.1, in one run.
#
#   bash test/bench/purge_matrix.sh OUT.csv
#
# BACKENDS (default "file s3 http gcs azure"), SIZES (default "1000 20000
# 100000") objects.  For each backend and size a fresh identical set of
# objects (see seed_objects.py) is deleted by each tool in turn, and none
# may be left behind:
#   file  reset_system vs rm -rf of the same tree
#   s3    reset_system vs rclone delete (16 checkers/transfers) and
#         aws s3 rm --recursive (16 concurrent requests), on s3rver 3.7.1
#   http  reset_system vs rclone delete over WebDAV, on nginx (dav-ext)
#   gcs   reset_system (batched deletes) vs rclone delete (gcs), on test/lib/gcs_double.py
#         (a test double of the GCS JSON API: no GCS emulator exists here)
#   azure reset_system (Blob Batch, Shared Key) vs rclone delete (azureblob, a
#         SAS URL), on Azurite 3.35.0 over http (both talk to it directly; the
#         objects are seeded through test/lib/azure_proxy.py's seeding endpoint).
#         Azurite looks a blob up by scanning its container, so every delete
#         costs in proportion to the container's size and the server, not the
#         client, sets the pace; a batch of 256 deletes can take minutes there,
#         hence reset_system.storage_timeout = 10min for this backend.
# The peers send one request per object: they run up to PEER_MAX objects
# (default 20000; rclone over WebDAV needs minutes for 20,000).  Azure runs
# up to AZURE_MAX objects (default 5000; see above).
# reset_system is timed from the reset's commit to the end of its purge
# (reset_system.history), with the worker's peak private memory.
# Each line of OUT.csv: purge,BACKEND,SIZE,TOOL,SECONDS,OBJECTS_PER_S,PEAK_RSS_ANON_KB.

source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/lib.sh"

OUT=${1:?usage: purge_matrix.sh OUT.csv}
BACKENDS=${BACKENDS:-"file s3 http gcs azure"}
SIZES=${SIZES:-"1000 20000 100000"}
PEER_MAX=${PEER_MAX:-20000}
AZURE_MAX=${AZURE_MAX:-5000}

install_packages nginx libnginx-mod-http-dav-ext rclone awscli python3
install_s3rver
install_azurite
WORK=$(make_workdir bench-purge)
build_and_install "$WORK"
CL=$WORK/cluster
start_cluster "$CL" "$(free_port)" "log_min_messages = warning"
S3DIR=$WORK/s3
NGDIR=$WORK/nginx
FILEDIR=$WORK/files
GCSPID=
AZDIR=$WORK/azurite
AZPORT=
AZPROXYPID=
cleanup() {
    stop_cluster "$CL"
    pkill -f -- "-d $S3DIR" 2>/dev/null || true
    [ -f "$NGDIR/nginx.pid" ] && kill "$(cat "$NGDIR/nginx.pid")" 2>/dev/null || true
    [ -n "$GCSPID" ] && kill "$GCSPID" 2>/dev/null || true
    [ -n "$AZPROXYPID" ] && kill "$AZPROXYPID" 2>/dev/null || true
    [ -n "$AZPORT" ] && pkill -f -- "--blobPort $AZPORT" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# ---- servers ---------------------------------------------------------------
start_s3rver() {
    [ -n "$S3RVER_BIN" ] || die "the s3 backend needs s3rver from the npm registry"
    S3PORT=$(free_port)
    run_pg mkdir -p "$S3DIR"
    run_pg env NODE_OPTIONS=--openssl-legacy-provider "$S3RVER_BIN" -d "$S3DIR" -a 127.0.0.1 \
        -p "$S3PORT" --silent --configure-bucket uploads >"$WORK/s3rver.log" 2>&1 &
    for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$S3PORT") 2>/dev/null && break; sleep 0.1; done
    run_pg tee "$WORK/aws-credentials" >/dev/null <<CRED
[default]
aws_access_key_id = S3RVER
aws_secret_access_key = S3RVER
CRED
    run_pg chmod 600 "$WORK/aws-credentials"
    psqlq -d postgres -c "LOAD 'reset_system'" \
        -c "ALTER SYSTEM SET reset_system.s3_credentials_file = '$WORK/aws-credentials'" -c "SELECT pg_reload_conf()" >/dev/null
    printf '[default]\ns3 =\n    max_concurrent_requests = 16\n' >"$WORK/aws-config"
}
start_nginx() {
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
}
start_gcs() {
    local line
    exec {GCSFD}< <(exec /usr/bin/python3 "$WORK/test/lib/gcs_double.py" --port 0 --bucket uploads)
    read -r line <&"$GCSFD"
    GCSPORT=${line#READY }
    GCSPID=$(pgrep -f "gcs_double.py --port 0" | tail -1)
    # the server's token comes from a command; the double checks none
    psqlq -d postgres -c "LOAD 'reset_system'" \
        -c "ALTER SYSTEM SET reset_system.gcs_token_command = 'echo unused'" -c "SELECT pg_reload_conf()" >/dev/null
}

start_azure() {
    local line
    [ -n "$AZURITE_BIN" ] || die "the azure backend needs Azurite from the npm registry"
    AZPORT=$(free_port)
    AZKEY=$(head -c 64 /dev/urandom | base64 -w0)
    run_pg mkdir -p "$AZDIR"
    run_pg env AZURITE_ACCOUNTS="rsbench:$AZKEY" "$AZURITE_BIN" --blobHost 127.0.0.1 --blobPort "$AZPORT" \
        --inMemoryPersistence --disableTelemetry --skipApiVersionCheck --silent >"$AZDIR/azurite.log" 2>&1 &
    for _ in $(seq 300); do (exec 3<>/dev/tcp/127.0.0.1/"$AZPORT") 2>/dev/null && break; sleep 0.1; done
    exec {AZFD}< <(exec /usr/bin/python3 "$WORK/test/lib/azure_proxy.py" --listen-port 0 \
        --upstream "http://127.0.0.1:$AZPORT" --account rsbench --key "$AZKEY")
    read -r line <&"$AZFD"
    AZSEED=http://127.0.0.1:${line#READY }
    AZPROXYPID=$(pgrep -f "azure_proxy.py --listen-port 0 --upstream http://127.0.0.1:$AZPORT" | tail -1)
    curl -s -X POST "$AZSEED/_test/container" -d '{"name": "media"}' >/dev/null
    # rclone 1.60 reaches an emulator's path-style URL only through a SAS URL
    AZSAS=$(curl -s -X POST "$AZSEED/_test/sas" -d '{"permissions": "rdlw", "hours": 24}' \
        | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["sas"])')
    echo "$AZKEY" | run_pg tee "$WORK/azure-key" >/dev/null
    run_pg chmod 600 "$WORK/azure-key"
    psqlq -d postgres -c "LOAD 'reset_system'" \
        -c "ALTER SYSTEM SET reset_system.azure_shared_key_file = '$WORK/azure-key'" \
        -c "ALTER SYSTEM SET reset_system.storage_timeout = '10min'" -c "SELECT pg_reload_conf()" >/dev/null
}

# ---- seeding and checking ------------------------------------------------------
# seed BACKEND N: a fresh set of N objects; the keys go to $WORK/keys
seed() {
    case $1 in
        file) run_pg rm -rf "$FILEDIR/bench"; run_pg mkdir -p "$FILEDIR"
              run_pg /usr/bin/python3 "$WORK/test/bench/seed_objects.py" plain "$FILEDIR" "$2" >"$WORK/keys" ;;
        s3)   run_pg rm -rf "$S3DIR/uploads/bench"
              run_pg /usr/bin/python3 "$WORK/test/bench/seed_objects.py" s3rver "$S3DIR/uploads" "$2" >"$WORK/keys" ;;
        http) run_pg rm -rf "$NGDIR/www/dav/bench"
              run_pg /usr/bin/python3 "$WORK/test/bench/seed_objects.py" plain "$NGDIR/www/dav" "$2" >"$WORK/keys" ;;
        gcs)  curl -s -X DELETE "http://127.0.0.1:$GCSPORT/_test/objects/uploads" >/dev/null
              /usr/bin/python3 "$WORK/test/bench/seed_objects.py" gcs "http://127.0.0.1:$GCSPORT" "$2" >"$WORK/keys" ;;
        azure) /usr/bin/python3 "$WORK/test/bench/seed_objects.py" azure "$AZSEED" "$2" >"$WORK/keys" ;;
    esac
    run_pg sync
}
# left BACKEND: objects of the set still there (the keepers not counted)
left() {
    case $1 in
        file) run_pg find "$FILEDIR/bench" -type f -name 'o*.bin' 2>/dev/null | wc -l ;;
        s3)   run_pg find "$S3DIR/uploads/bench" -type f -name 'o*.bin._S3rver_object' | wc -l ;;
        http) run_pg find "$NGDIR/www/dav/bench" -type f -name 'o*.bin' | wc -l ;;
        gcs)  curl -s "http://127.0.0.1:$GCSPORT/_test/objects/uploads?prefix=bench/" | tr ',' '\n' | grep -c 'o[0-9]*\.bin' || true ;;
        azure) curl -s "$AZSEED/_test/objects?container=media&prefix=bench/" | tr ',' '\n' | grep -c 'o[0-9]*\.bin' || true ;;
    esac
}
options_for() {
    case $1 in
        file) echo "{\"root\": \"$FILEDIR\"}" ;;
        s3)   echo "{\"bucket\": \"uploads\", \"endpoint\": \"http://127.0.0.1:$S3PORT\", \"path_style\": true}" ;;
        http) echo "{\"base_url\": \"http://127.0.0.1:$NGPORT/dav/\"}" ;;
        gcs)  echo "{\"bucket\": \"uploads\", \"endpoint\": \"http://127.0.0.1:$GCSPORT\", \"batch\": true}" ;;
        azure) echo "{\"account\": \"rsbench\", \"container\": \"media\", \"endpoint\": \"http://127.0.0.1:$AZPORT/rsbench\"}" ;;
    esac
}

# rs_purge BACKEND N: reset a table of the keys; prints "seconds peak_anon_kb"
rs_purge() {
    local db="bench_$1_$2" mem secs
    psqlq -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" \
        -c "ALTER DATABASE $db SET reset_system.environment = 'benchmark'"
    psqlq -d "$db" -o /dev/null <<SQL
CREATE TABLE media (id serial PRIMARY KEY, file_key text);
\\copy media (file_key) FROM '$WORK/keys'
CREATE EXTENSION reset_system;
SELECT reset_register_table('media', 'delete', 'media file', '{file_key}');
SELECT reset_configure_storage('$1', '$(options_for "$1")');
SQL
    psqlq -d "$db" -At -c "SELECT reset_execute('RESET-EVERYTHING')" >/dev/null
    mem=$(watch_worker "$db")
    psqlq -d "$db" -At -c "SELECT reset_purge_wait('2 hours')" >/dev/null
    secs=$(psqlq -d "$db" -At -c "SELECT round(extract(epoch FROM purge_finished_at - finished_at)::numeric, 3)
                                 FROM reset_system.history")
    # dropped before the answer, so that nothing is left running when the
    # caller has read it
    psqlq -d postgres -c "DROP DATABASE $db"
    echo "$secs ${mem%% *}"
}

# peer BACKEND TOOL: run a peer tool on the current set; prints seconds
peer() {
    local t0 t1
    t0=$(date +%s.%N)
    case "$1 $2" in
        "file rm -rf") run_pg rm -rf "$FILEDIR/bench" ;;
        "s3 rclone") env -u AWS_CA_BUNDLE rclone delete --config /dev/null --checkers 16 --transfers 16 \
                --exclude "*/keep" ":s3,provider=Other,endpoint='http://127.0.0.1:$S3PORT',access_key_id=S3RVER,secret_access_key=S3RVER,region=us-east-1:uploads/bench/" ;;
        "s3 aws") env -u AWS_CA_BUNDLE AWS_CONFIG_FILE="$WORK/aws-config" AWS_SHARED_CREDENTIALS_FILE=/dev/null \
                AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1 \
                /usr/bin/aws s3 rm s3://uploads/bench/ --recursive --exclude "*/keep" \
                --endpoint-url "http://127.0.0.1:$S3PORT" --only-show-errors ;;
        "http rclone") rclone delete --config /dev/null --checkers 16 --transfers 16 --exclude "*/keep" \
                ":webdav,url='http://127.0.0.1:$NGPORT/dav/':bench/" ;;
        "gcs rclone") rclone delete --config /dev/null --checkers 16 --transfers 16 --exclude "*/keep" \
                ":gcs,endpoint='http://127.0.0.1:$GCSPORT/storage/v1/',anonymous=true:uploads/bench/" ;;
        "azure rclone") rclone delete --config /dev/null --checkers 16 --transfers 16 --exclude "*/keep" \
                ":azureblob,sas_url='http://127.0.0.1:$AZPORT/rsbench/media?$AZSAS':media/bench/" ;;
    esac >"$WORK/peer.log" 2>&1 || { cat "$WORK/peer.log"; die "$2 failed on $1"; }
    t1=$(date +%s.%N)
    secs "$t0" "$t1"
}

for b in $BACKENDS; do
    case $b in s3) start_s3rver ;; http) start_nginx ;; gcs) start_gcs ;; azure) start_azure ;; esac
    for n in $SIZES; do
        if [ "$b" = azure ] && [ "$n" -gt "$AZURE_MAX" ]; then
            say "$b: $n objects: not run (more than AZURE_MAX=$AZURE_MAX: Azurite's deletes scan the container)"
            continue
        fi
        say "$b: $n objects"
        seed "$b" "$n"
        read -r s anon < <(rs_purge "$b" "$n")
        [ "$(left "$b")" = 0 ] || die "reset_system left objects behind on $b"
        csv "$OUT" purge "$b" "$n" reset_system "$s" "$(rate "$n" "$s")" "$anon"
        echo "  reset_system: $s s ($(rate "$n" "$s")/s, worker ${anon} kB)"
        case $b in file) tools=("rm -rf") ;; s3) tools=(rclone aws) ;; *) tools=(rclone) ;; esac
        for tool in "${tools[@]}"; do
            if [ "$tool" != "rm -rf" ] && [ "$n" -gt "$PEER_MAX" ]; then
                echo "  $tool: not run (more than PEER_MAX=$PEER_MAX objects)"
                continue
            fi
            seed "$b" "$n"
            s=$(peer "$b" "$tool")
            [ "$(left "$b")" = 0 ] || die "$tool left objects behind on $b"
            csv "$OUT" purge "$b" "$n" "$tool" "$s" "$(rate "$n" "$s")" ""
            echo "  $tool: $s s ($(rate "$n" "$s")/s)"
        done
    done
done

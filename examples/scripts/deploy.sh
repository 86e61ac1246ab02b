#!/bin/sh
# deploy.sh SERVICE VERSION TRACK: records VERSION as the running version of
# SERVICE on TRACK (canary or stable), keeping the previous one for rollback.
# The state lives in $SERVICE_STATE_DIR (default ./.runbook/services), which
# the example service reads to answer its health check.
set -eu
service=$1 version=$2 track=$3
dir=${SERVICE_STATE_DIR:-./.runbook/services}
mkdir -p "$dir"
file="$dir/$service.$track"
if [ -f "$file" ]; then cp "$file" "$file.previous"; fi
printf '%s\n' "$version" > "$file.tmp"
mv "$file.tmp" "$file"
echo "deployed $service $version to $track"

#!/bin/sh
# rollback.sh SERVICE TRACK: restores the version deployed before the last
# deploy.sh of SERVICE on TRACK.
set -eu
service=$1 track=$2
dir=${SERVICE_STATE_DIR:-./.runbook/services}
file="$dir/$service.$track"
if [ ! -f "$file.previous" ]; then
  echo "no previous version of $service on $track" >&2
  exit 3
fi
mv "$file.previous" "$file"
echo "rolled back $service on $track to $(cat "$file")"

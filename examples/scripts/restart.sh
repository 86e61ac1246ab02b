#!/bin/sh
# restart.sh SERVICE: asks the example service to restart by touching its
# restart marker in $SERVICE_STATE_DIR; the service picks it up and recovers.
set -eu
service=$1
dir=${SERVICE_STATE_DIR:-./.runbook/services}
mkdir -p "$dir"
date -u +%Y-%m-%dT%H:%M:%SZ > "$dir/$service.restart"
echo "restart requested for $service"

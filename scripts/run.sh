#!/usr/bin/env bash
# Starts a Temporal dev server (unless one answers already) and omni dev;
# Ctrl-C stops both.
set -euo pipefail
: "${TEMPORAL:?set TEMPORAL to the Temporal CLI}"
address=${TEMPORAL_ADDRESS:-127.0.0.1:7233}
# omni dev serves the codec endpoint the UI decodes payloads through.
codec=${OMNI_DEV_CODEC_ADDR:-127.0.0.1:8081}
data=.data
mkdir -p "$data"

healthy() { "$TEMPORAL" operator cluster health --address "$address" >/dev/null 2>&1; }

if healthy; then
  echo "Using the Temporal server already answering at $address (its UI decodes omni's payloads only with codec endpoint http://$codec/codec)."
else
  echo "Starting the Temporal dev server (state in $data/temporal.db, log in $data/temporal.log)..."
  # WAL and relaxed fsync keep the file-backed server as fast as in-memory.
  "$TEMPORAL" server start-dev \
    --ip 127.0.0.1 --port "${address##*:}" --ui-port 8233 \
    --ui-codec-endpoint "http://$codec/codec" \
    --db-filename "$data/temporal.db" \
    --sqlite-pragma journal_mode=WAL --sqlite-pragma synchronous=NORMAL \
    --dynamic-config-value history.shardIOConcurrency=16 \
    --search-attribute CampaignId=Keyword --search-attribute CustomerId=Keyword \
    --log-level warn >"$data/temporal.log" 2>&1 &
  temporal_pid=$!
  trap 'echo "Stopping the Temporal dev server..."; kill "$temporal_pid" 2>/dev/null; wait "$temporal_pid" 2>/dev/null || true' EXIT
  for _ in $(seq 1 60); do
    healthy && break
    kill -0 "$temporal_pid" 2>/dev/null || { echo "The Temporal dev server did not start; see $data/temporal.log" >&2; exit 1; }
    sleep 1
  done
  healthy || { echo "The Temporal dev server did not answer within 60s; see $data/temporal.log" >&2; exit 1; }
fi

# omni dev talks to the server checked above, whatever a Temporal CLI
# profile says.
export TEMPORAL_ADDRESS="$address"
# omni handles Ctrl-C itself; the trap above then stops the dev server.
bin/omni dev

#!/usr/bin/env bash
# The one test command (README, CI): installs what the tests need if it is missing, then runs
# the formatting check, clippy with -D warnings and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v sipp >/dev/null 2>&1 || need+=(sip-tester)
command -v cmake >/dev/null 2>&1 || need+=(cmake)
command -v nats-server >/dev/null 2>&1 || need+=(nats-server)
# A real softphone for the two-phones-in-a-room audio test.
command -v baresip >/dev/null 2>&1 || need+=(baresip-core)
# A real TURN server (coturn) for the WebRTC link's relayed candidates.
command -v turnserver >/dev/null 2>&1 || need+=(coturn)
if [ ${#need[@]} -gt 0 ]; then
  echo "run.sh: installing ${need[*]}"
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

if command -v baresip >/dev/null 2>&1; then
  export SIPBRIDGE_REQUIRE_BARESIP=1
fi

# The official server SDK (PyPI `livekit-api`) drives the API in control's SDK test.
if command -v python3 >/dev/null 2>&1; then
  if ! python3 -c "import livekit.api" >/dev/null 2>&1; then
    echo "run.sh: installing livekit-api (PyPI)"
    python3 -m pip install --quiet livekit-api || echo "run.sh: livekit-api not installed; the SDK test will skip"
  fi
  if python3 -c "import livekit.api" >/dev/null 2>&1; then
    export SIPBRIDGE_REQUIRE_SDK=1
  fi
  # aiortc (PyPI) acts as an independent WebRTC room server in the WebRTC link tests.
  if ! python3 -c "import aiortc, aiohttp" >/dev/null 2>&1; then
    echo "run.sh: installing aiortc and aiohttp (PyPI)"
    python3 -m pip install --quiet aiortc aiohttp || echo "run.sh: aiortc not installed; the aiortc tests will skip"
  fi
  if python3 -c "import aiortc, aiohttp" >/dev/null 2>&1; then
    export SIPBRIDGE_REQUIRE_AIORTC=1
  fi
fi

echo "run.sh: cargo fmt --all --check"
cargo fmt --all --check

echo "run.sh: cargo clippy --workspace --all-targets --locked -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

# The sans-IO cores must not pull in an async runtime (DESIGN.md, STYLE.md §1).
for core in sip-message sip-core rtp-relay; do
  if cargo metadata --format-version 1 --no-deps --locked 2>/dev/null | grep -q "\"name\":\"$core\""; then
    if cargo tree -p "$core" -e normal --locked --prefix none | grep -qE '^(tokio|async-std|smol) '; then
      echo "run.sh: $core depends on an async runtime" >&2
      exit 1
    fi
  fi
done

echo "run.sh: cargo test --workspace --locked"
cargo test --workspace --locked

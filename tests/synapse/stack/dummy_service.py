"""A stand-in service for the supervisor tests: /health on a port, a log line, optional failure modes.

Usage: python dummy_service.py PORT NAME [--die-after S] [--never-healthy] [--ignore-sigint]
Like a real service started by `synapse up`, it stops by itself once the supervisor in SYNAPSE_PARENT_PID is gone.
"""

from __future__ import annotations

import http.server
import os
import signal
import sys
import threading
import time


def main() -> None:
    port, name = int(sys.argv[1]), sys.argv[2]
    args = sys.argv[3:]
    # Set either way, as uvicorn does: a suite run from a background job inherits SIGINT ignored.
    signal.signal(signal.SIGINT, signal.SIG_IGN if "--ignore-sigint" in args else signal.default_int_handler)
    healthy = "--never-healthy" not in args
    if os.environ.get("SYNAPSE_PARENT_PID"):
        from synapse.embeddings.parent_watch import stop_gracefully, watch_parent_from_env

        watch_parent_from_env(stop_gracefully(grace_s=2.0))

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            ok = healthy and self.path == "/health"
            body = b'{"status": "ok", "embedder": "dummy-embedder", "dim": 8}' if ok else b"{}"
            self.send_response(200 if ok else 503)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    # Ctrl-C may come as soon as /health answers, so the handler covers the start too.
    try:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        print(f"{name} listening on {port}", flush=True)
        if "--die-after" in args:
            time.sleep(float(args[args.index("--die-after") + 1]))
            print(f"{name} crashing", flush=True)
            sys.exit(3)
        while True:
            time.sleep(0.1)
    except KeyboardInterrupt:
        print(f"{name} stopped cleanly", flush=True)


if __name__ == "__main__":
    main()

"""The entry point of a service that `synapse up` starts: the `synapse` command line, stopped with its supervisor.

The supervisor names itself in SYNAPSE_PARENT_PID. If it is killed (`kill -9`, a closed terminal on some
systems), no Ctrl-C reaches the services in their own process groups; each then stops itself as on SIGTERM
(the server shuts down gracefully, closing its store and its own children), and is ended if that takes longer
than the supervisor would have waited.
"""

from __future__ import annotations

from synapse.embeddings.parent_watch import stop_gracefully, watch_parent_from_env

#: As long as the supervisor waits for a service to stop (Supervisor.stop_timeout_s).
STOP_GRACE_S = 15.0


def main() -> None:
    watch_parent_from_env(stop_gracefully(STOP_GRACE_S))
    from synapse.cli import main as cli_main

    cli_main()

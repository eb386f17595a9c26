"""jupyterhub-idle-culler as a hub-managed service, stoppable however the hub was launched.

The hub stops its managed services with SIGINT first; a hub started from a background shell (nohup, cron, CI)
passes SIGINT on ignored, and the culler would then hold the hub's shutdown until the hub escalates. Its
default handler is restored here before the culler starts (``python -m vlass_spawners.idle_culler --timeout=…``).
"""

import signal

from jupyterhub_idle_culler import main

if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    main()

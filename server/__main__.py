"""`python -m server`: serve the console with uvicorn on PTT_HOST:PTT_PORT."""

from __future__ import annotations

import logging
import sys
import warnings

import uvicorn
from jwt.warnings import InsecureKeyLengthWarning

from .app import create_app
from .config import ConfigError, Settings

logger = logging.getLogger("server")


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = Settings.from_env()
    except ConfigError as e:
        print(f"server: configuration error: {e}", file=sys.stderr)
        return 2
    if len(settings.livekit_api_secret.encode()) < 32:
        # PyJWT warns on every token signed with a short key; say it once instead
        warnings.filterwarnings("ignore", category=InsecureKeyLengthWarning)
        logger.warning(
            "LIVEKIT_API_SECRET is shorter than 32 bytes: fine for livekit-server --dev, "
            "use a long random secret anywhere else"
        )
    app = create_app(settings)
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    logger.info(
        "PTT console on http://%s:%d/ (LiveKit %s, agent %s)",
        host,
        settings.port,
        settings.public_livekit_url,
        settings.agent_name,
    )
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())

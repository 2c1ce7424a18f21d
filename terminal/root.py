"""Where the Chainlit app lives: its root folder (config, translations, welcome text) is this package's folder."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from terminal.errors import TerminalError

#: Chainlit's app root: `.chainlit/config.toml`, `.chainlit/translations/`, `chainlit.md`, `public/`.
CHAINLIT_ROOT = Path(__file__).resolve().parent
APP_FILE = CHAINLIT_ROOT / "app.py"


def bind_chainlit_root() -> Path:
    """Point Chainlit at the terminal's root before it is imported (it reads its config at import time)."""
    if "chainlit.config" in sys.modules:
        from chainlit.config import config

        if Path(config.root).resolve() != CHAINLIT_ROOT:
            raise TerminalError(
                f"Chainlit was already loaded with its root at {config.root}",
                "start the terminal with `synapse terminal`, which sets CHAINLIT_APP_ROOT first",
            )
        return CHAINLIT_ROOT
    os.environ["CHAINLIT_APP_ROOT"] = str(CHAINLIT_ROOT)
    return CHAINLIT_ROOT


def use_files_dir(path: Path) -> Path:
    """Keep Chainlit's per-session upload folder at `path` instead of `<root>/.files`.

    Chainlit deletes that whole folder when a server stops, so two terminals sharing the package's root would
    delete each other's uploads; each process gets its own folder under the data directory instead.
    """
    from terminal.chainlit_compat import set_files_directory
    from terminal.private import private_dir

    set_files_directory(private_dir(path))
    return path

"""Entry point of the bundled CalTrack (PyInstaller runs this file as ``__main__``).

The same as the ``caltrack`` console script: no command opens the window.
"""

import sys

from app.cli.main import main

if __name__ == "__main__":
    sys.exit(main())

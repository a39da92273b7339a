"""The browser app, as typed from the repository root: ``python app.py [options]``.

The app itself is ``restore.app`` (installed as the ``skipat-app`` command)."""
import sys

from restore.app import main

if __name__ == "__main__":
    sys.exit(main())

"""Allow ``python -m app`` to behave exactly like the ``caltrack`` command."""

from app.cli.main import main

raise SystemExit(main())

"""``python -m renkei_conformance`` is the ``renkei`` command."""

from .cli import main

raise SystemExit(main())

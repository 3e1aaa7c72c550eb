"""``python -m geo`` is an alias of the ``gridmap`` command."""

from geo.cli import main

raise SystemExit(main())

"""``python -m app`` is the ``okaart`` command."""

from cli.main import main

main()

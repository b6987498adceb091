"""``python -m cli`` is the ``okaart`` command."""

from cli.main import main

main()

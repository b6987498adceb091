"""``python -m app`` is the ``okaart`` command."""

from app.cli import main

main()

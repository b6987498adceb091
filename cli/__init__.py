"""The command line (`okaart`): the top floor, free to use every other package."""

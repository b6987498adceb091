"""The foundation every floor stands on: settings, database, domain vocabulary, security primitives."""

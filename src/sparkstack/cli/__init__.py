"""The command line: parses flags, calls :mod:`sparkstack.api`, renders results. No logic here."""

"""``python -m sparkstack``: the same as the ``sparkstack`` command."""

from sparkstack.cli.main import main

main()

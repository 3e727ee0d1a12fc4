"""The development cloud: real OpenStack services on this machine, for demos and tests."""

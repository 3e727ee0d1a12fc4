"""Node access over SSH (asyncssh) and nothing else: it knows nothing of the cloud."""

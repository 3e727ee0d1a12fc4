"""Cloud provisioning through openstacksdk and nothing else: it knows nothing of SSH."""

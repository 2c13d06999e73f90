"""What the gateway gives other software: proxy configurations and the
registration details for OpenID providers. Reads the config, serves nothing."""

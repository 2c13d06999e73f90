"""What the gateway gives other software: each reverse proxy's configuration (one module per
proxy: nginx, Caddy, Traefik, Envoy, ingress-nginx) and the registration details for OpenID
providers. Reads the config, serves nothing."""

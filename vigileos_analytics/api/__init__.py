"""The HTTP API (``vigileos serve``): the seed's three REST endpoints with their payloads,
the calls integrators ask for beyond them, writes over HTTP and WebSocket push; a thin
layer over the analytics and recording services, like the CLI."""

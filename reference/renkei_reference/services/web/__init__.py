"""HTTP and TLS infrastructure shared by every party's app.

``models`` — wire models; ``problems`` — problem+json; ``server_limits`` — the
server's limits; ``pki`` — the test PKI; ``tls`` — mutual TLS; ``page`` — the
secured page frame of the web UIs.
"""

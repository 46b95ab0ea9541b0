"""The conformance suite: one module per family of requirements."""

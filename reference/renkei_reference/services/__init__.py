"""The imperative shell of the reference: HTTP services, storage, clock, keys."""

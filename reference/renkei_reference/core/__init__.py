"""The pure core of the reference: values, rules and state machines.

Nothing in this package performs I/O, reads a clock, draws randomness or keeps
global state; the import-linter contract ``pure-core`` enforces it.  Clocks,
random draws and keys are passed in by ``renkei_reference.services``.
"""

"""My Portal (マイナポータル).

``portal`` — the portal; ``port`` — its port to the hub; ``app`` — its wire,
web pages and test-mode control; ``cards`` — the simulated JPKI and IC cards.
"""

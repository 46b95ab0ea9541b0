"""Durable storage shared by the parties.

``log_store`` — the append-only log store; ``log_integrity`` — its row checks;
``signed_log`` — the signed log; ``keystore`` — the key store.
"""

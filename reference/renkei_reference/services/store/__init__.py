"""Durable storage shared by the parties.

``log_store`` — the append-only log store (the ``LogStore`` protocol the hub
depends on, its SQLite and in-memory implementations); ``pg_store`` — the same
store over PostgreSQL; ``stores`` — which one ``--store`` names;
``log_integrity`` — its row checks; ``signed_log`` — the signed log;
``keystore`` — the key store.
"""

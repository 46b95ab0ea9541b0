"""The resident registry (住基ネット simulator).

``registry`` — the residents and their 4 items; ``store`` — their SQLite tables and blocking index.
"""

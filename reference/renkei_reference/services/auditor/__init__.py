"""The auditor (監査).

``auditor`` — gathering and checking the logs; ``app`` — the dashboard.
"""

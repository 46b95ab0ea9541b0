"""The numbering authority (番号生成機関).

``authority`` — the authority; ``table`` — its durable table of Numbers.
"""

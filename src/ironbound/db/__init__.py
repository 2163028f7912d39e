"""The database: models, sessions, migrations and the queries every other room uses.

Only this package writes SQL.
"""

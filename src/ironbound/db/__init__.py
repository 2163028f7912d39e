"""The database: models, sessions, migrations and the queries every other room uses.

Only this package writes SQL and sends a unit of work's changes (`session.add`,
`delete`, `flush`): other rooms hold a session and change the rows it returns.
"""

"""The conductor: claims node jobs from the database and runs their flows."""

"""Who is calling: principals, signing keys, bearer tokens, passwords and browser sessions.

Nothing here imports handlers; handlers call these pieces.
"""

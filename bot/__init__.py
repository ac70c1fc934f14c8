"""Support assistant for overdue-loan SMS notices: domain core, services and CLI.

Nothing in this package outside ``bot.rasa_ext`` imports ``rasa`` or ``rasa_sdk``.
"""

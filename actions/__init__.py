"""Thin rasa_sdk actions, split by conversation area. Business rules live in ``bot``."""

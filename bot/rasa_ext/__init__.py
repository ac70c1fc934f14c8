"""Rasa-side extensions: the in-app channel and custom NLU components. May import rasa."""

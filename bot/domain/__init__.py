"""The domain core: records, rules and their vocabulary. No Rasa imports here."""

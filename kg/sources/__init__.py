"""Builders of the embedded default medical KG from packaged data (HPO, MONDO, drugs)."""

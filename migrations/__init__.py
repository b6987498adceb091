"""Ondermijningskaart."""

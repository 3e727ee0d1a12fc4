"""Shared pytest configuration; fixtures that start real services live beside their tests."""

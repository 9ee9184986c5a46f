"""Generators of realistic, labeled network traffic."""

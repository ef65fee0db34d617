"""Recipes: scripts that build the training data and commands of shipped models."""

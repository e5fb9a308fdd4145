"""Test doubles: the offline DashScope and Discord servers, generated media, a running bot."""

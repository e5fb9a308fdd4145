"""Conversations: composing requests under the model's rules and budget, replying, exporting."""

"""Small helpers shared by the Omnicord cogs."""

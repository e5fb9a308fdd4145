"""What every Omnicord cog loaded into one bot shares while it runs: the runtime (services,
HTTP session, pacer), the replies in flight and their stopping, the ``/omni`` and
``/omni-admin`` command groups, their sync with Discord, and the commands' autocomplete."""

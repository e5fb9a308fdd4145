"""The model service: catalog, request rules, message parts, reply events, upstream errors,
and the streaming Omni and captioner clients."""

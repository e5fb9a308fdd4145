"""The media pipeline: any file a member posts, converted into what the model accepts."""

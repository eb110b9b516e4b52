"""The key-value store: entries per space in plinth.kv, a read-through cache in front."""

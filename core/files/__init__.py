"""Files: metadata in plinth.files, bytes in a storage backend (local disk or S3)."""

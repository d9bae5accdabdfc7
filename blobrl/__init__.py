"""blobrl: AlphaZero-style self-play for Blob (Oh Hell)."""

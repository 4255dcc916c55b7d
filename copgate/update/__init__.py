"""The gateway side of signed list releases: poll, verify, store, swap (issue 11)."""

"""Sending: a worker takes each queued delivery (`take`), checks it may go (`checks`),
composes it and hands it to its channel (`deliver`), and records how it ended (`outcome`),
within the per-sender rate limits (`ratelimit`), retrying what was not processed
(`backoff`) and counting it all (`metrics`). The process's tools are in `context`."""

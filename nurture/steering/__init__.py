"""Steering a prospect's messages: consent and opt-outs (`consent`), stopping (`stop`),
pausing for a reply and resuming (`replies`), finding a prospect (`contacts`), and ops'
actions on one delivery (`deliveries`). Every function works in the caller's transaction."""

"""Dynamo (DeCandia et al., SOSP 2007): a leaderless, eventually consistent key-value store."""

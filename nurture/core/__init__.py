"""The pure core: the words every other package shares (channels, states, addresses, zones,
the clock, the queue names). Nothing here touches a database, the network or the disk."""

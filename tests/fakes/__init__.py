"""Local fake trackers (aiohttp apps) written from each vendor's documentation."""
